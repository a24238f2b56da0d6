"""LadybugDB rows <-> records through the shared codec (`graph/codec.py`).

Columns are returned positionally by the engine; each decoder zips them with the field
names its statement selected (`C_COLS`, `V_COLS`, `T_COLS`) into the property map the
codec reads, so a statement and its decoder always name the same fields.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .. import codec
from ..records import ContextRecord, ContextTypeRecord, VersionRecord

SEP = "\x00"

CONTEXT_FIELDS = (
    "id", "workspace", "path", "parent_id", "kind", "title", "content", "data", "tags", "inherit",
    "version", "created_at", "updated_at", "created_by", "updated_by",
)
VERSION_FIELDS = (
    "context_id", "workspace", "number", "operation", "path", "kind", "title", "content", "data",
    "tags", "inherit", "author", "created_at", "changed",
)
TYPE_FIELDS = ("workspace", "name", "schema", "version", "created_at", "updated_at", "updated_by")

C_COLS = ", ".join(f"c.{f}" for f in CONTEXT_FIELDS)
V_COLS = ", ".join(f"v.{f}" for f in VERSION_FIELDS)
T_COLS = ", ".join(f"t.{f}" for f in TYPE_FIELDS)

def _key(workspace: str, name: str) -> str:
    return workspace + SEP + name


def _now_us() -> int:
    return time.time_ns() // 1_000


def _dump(data: Any) -> str:
    return codec.dump_json(data)


def _context_row(rec: ContextRecord) -> dict[str, Any]:
    return {**codec.context_props(rec), "key": _key(rec.workspace, rec.path)}


def _version_row(rec: VersionRecord) -> dict[str, Any]:
    return {**codec.version_props(rec), "id": rec.id}


def _type_row(rec: ContextTypeRecord) -> dict[str, Any]:
    return {**codec.type_props(rec), "key": _key(rec.workspace, rec.name)}


def _context(row: Sequence[Any]) -> ContextRecord:
    return codec.context_record(dict(zip(CONTEXT_FIELDS, row)))


def _version(row: Sequence[Any]) -> VersionRecord:
    return codec.version_record(dict(zip(VERSION_FIELDS, row)))


def _type(row: Sequence[Any]) -> ContextTypeRecord:
    return codec.type_record(dict(zip(TYPE_FIELDS, row)))


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
