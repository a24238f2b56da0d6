"""Records <-> LadybugDB rows: one codec for every statement of this backend.

Columns are returned positionally by the engine; each decoder zips them with the field
names its statement selected (`C_COLS`, `V_COLS`, `T_COLS`), so a statement and its
decoder always name the same fields.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

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


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _context_row(rec: ContextRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "workspace": rec.workspace, "path": rec.path, "parent_id": rec.parent_id,
        "kind": rec.kind, "title": rec.title, "content": rec.content, "data": _dump(rec.data),
        "tags": list(rec.tags), "inherit": bool(rec.inherit), "version": int(rec.version),
        "created_at": int(rec.created_at), "updated_at": int(rec.updated_at),
        "created_by": rec.created_by, "updated_by": rec.updated_by,
        "name": rec.name, "depth": rec.depth, "key": _key(rec.workspace, rec.path),
    }


def _version_row(rec: VersionRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "context_id": rec.context_id, "workspace": rec.workspace, "number": int(rec.number),
        "operation": rec.operation, "path": rec.path, "kind": rec.kind, "title": rec.title,
        "content": rec.content, "data": _dump(rec.data), "tags": list(rec.tags),
        "inherit": bool(rec.inherit), "author": rec.author, "created_at": int(rec.created_at),
        "changed": list(rec.changed),
    }


def _type_row(rec: ContextTypeRecord) -> dict[str, Any]:
    return {
        "key": _key(rec.workspace, rec.name), "workspace": rec.workspace, "name": rec.name,
        "schema": _dump(rec.schema), "version": int(rec.version), "created_at": int(rec.created_at),
        "updated_at": int(rec.updated_at), "updated_by": rec.updated_by,
    }


def _context(row: Sequence[Any]) -> ContextRecord:
    values = dict(zip(CONTEXT_FIELDS, row))
    values["data"] = json.loads(values["data"]) if values["data"] else {}
    values["tags"] = list(values["tags"] or [])
    return ContextRecord(**values)


def _version(row: Sequence[Any]) -> VersionRecord:
    values = dict(zip(VERSION_FIELDS, row))
    values["data"] = json.loads(values["data"]) if values["data"] else {}
    values["tags"] = list(values["tags"] or [])
    values["changed"] = list(values["changed"] or [])
    return VersionRecord(**values)


def _type(row: Sequence[Any]) -> ContextTypeRecord:
    values = dict(zip(TYPE_FIELDS, row))
    values["schema"] = json.loads(values["schema"]) if values["schema"] else {}
    return ContextTypeRecord(**values)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
