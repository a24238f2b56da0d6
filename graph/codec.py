"""Records <-> stored property maps: one codec for every backend.

Property names are the filter fields of `graph.filters` (plus the rest of the record);
`name` and `depth` are stored so that filters and ORDER BY can use them. JSON documents
(`data`, `schema`) are stored as strings (Neo4j properties cannot hold maps, and LadybugDB's
JSON extension needs a download), written without NaN or Infinity so every backend reads
back what any backend wrote.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import keyset
from .filters import Order

from .records import (ALWAYS_FETCHED, CONTEXT_FIELDS, ContextRecord, ContextTypeRecord, VersionRecord,
                      partial_record_maker, stored_json)

# Set by update_context: everything but identity and place in the tree.
UPDATABLE = ("kind", "title", "content", "data", "tags", "inherit", "version",
             "created_at", "updated_at", "created_by", "updated_by")


# Sort keys stored on the node but derived from another attribute of the record.
_KEY_ATTRIBUTES = {"name": "path", "depth": "path"}


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load_json(text: str | None) -> Any:
    return json.loads(text) if text else {}


def _data(text: str | None) -> dict[str, Any]:
    """A record's `data`, decoded when first read (`records.stored_json`): most reads never do."""
    return stored_json(text) if text else {}


def context_props(record: ContextRecord, workspace: str | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "workspace": workspace or record.workspace,
        "path": record.path,
        "name": record.name,
        "parent_id": record.parent_id,
        "depth": record.depth,
        "kind": record.kind,
        "title": record.title,
        "content": record.content,
        "data": dump_json(record.data),
        "tags": list(record.tags),
        "inherit": bool(record.inherit),
        "version": int(record.version),
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
        "created_by": record.created_by,
        "updated_by": record.updated_by,
    }


def updated_props(record: ContextRecord, previous: ContextRecord | None = None) -> dict[str, Any]:
    """The stored properties `set_state` writes: every `UPDATABLE` one, or, given the state it
    replaces, only those that differ from it. An update that rewrites unchanged columns costs the
    embedded engine a copy of each column's 2,048-row vector until the next checkpoint, and the
    checkpoint rewrites them (bench/results/profile-2026-12-02-ladybug-writes.md)."""
    props = context_props(record)
    if previous is None:
        return {k: props[k] for k in UPDATABLE}
    return {k: props[k] for k in UPDATABLE if getattr(record, k) != getattr(previous, k)}


def context_record(props: Mapping[str, Any]) -> ContextRecord:
    return ContextRecord(
        id=props["id"],
        workspace=props["workspace"],
        path=props["path"],
        parent_id=props.get("parent_id"),
        kind=props["kind"],
        title=props["title"],
        content=props["content"],
        data=_data(props["data"]),
        tags=list(props.get("tags") or ()),
        inherit=props["inherit"],
        version=props["version"],
        created_at=props["created_at"],
        updated_at=props["updated_at"],
        created_by=props["created_by"],
        updated_by=props["updated_by"],
    )


def fetched(fields: frozenset[str] | None) -> frozenset[str] | None:
    """What a projected read fetches for `fields` (attributes of `ContextRecord`): those and
    `ALWAYS_FETCHED`; None (complete records) when that is every attribute or `fields` is None."""
    if fields is None:
        return None
    unknown = fields - CONTEXT_FIELDS
    if unknown:
        raise ValueError(f"not attributes of a context: {sorted(unknown)}")
    wanted = fields | ALWAYS_FETCHED
    return None if wanted == CONTEXT_FIELDS else wanted


def with_order_keys(fields: frozenset[str] | None, order: Sequence[Order]) -> frozenset[str] | None:
    """`fields` and the attributes holding the sort keys of `find_contexts` in `order` (each row's
    position, hence its cursor, is read from them: `keyset.position`)."""
    if fields is None:
        return None
    keys = {_KEY_ATTRIBUTES.get(key.field, key.field) for key in keyset.contexts(order)}
    return None if keys - CONTEXT_FIELDS else fields | keys


def context_record_of(props: Mapping[str, Any], fields: frozenset[str] | None) -> ContextRecord:
    """`context_record`, or a `PartialContextRecord` of `fields` (as returned by `fetched`) from a
    property map holding at least those properties (stored names are the attribute names)."""
    return context_decoder(fields)(props)


@functools.lru_cache(maxsize=256)
def context_decoder(fields: frozenset[str] | None) -> Callable[[Mapping[str, Any]], ContextRecord]:
    """`context_record_of` for one `fields`: a read of many rows looks the projection up once."""
    if fields is None:
        return context_record
    make = partial_record_maker(fields)
    if "data" not in fields and "tags" not in fields:
        return make
    with_data, with_tags = "data" in fields, "tags" in fields

    def decode(props: Mapping[str, Any]) -> ContextRecord:
        values = dict(props)
        if with_data:
            values["data"] = _data(values.get("data"))
        if with_tags:
            values["tags"] = list(values.get("tags") or ())
        return make(values)

    return decode


def version_props(record: VersionRecord, workspace: str | None = None) -> dict[str, Any]:
    return {
        "context_id": record.context_id,
        "workspace": workspace or record.workspace,
        "number": int(record.number),
        "operation": record.operation,
        "path": record.path,
        "kind": record.kind,
        "title": record.title,
        "content": record.content,
        "data": dump_json(record.data),
        "tags": list(record.tags),
        "inherit": bool(record.inherit),
        "author": record.author,
        "created_at": int(record.created_at),
        "changed": list(record.changed),
    }


def version_record(props: Mapping[str, Any]) -> VersionRecord:
    return VersionRecord(
        context_id=props["context_id"],
        workspace=props["workspace"],
        number=props["number"],
        operation=props["operation"],
        path=props["path"],
        kind=props["kind"],
        title=props["title"],
        content=props["content"],
        data=_data(props["data"]),
        tags=list(props.get("tags") or ()),
        inherit=props["inherit"],
        author=props["author"],
        created_at=props["created_at"],
        changed=list(props.get("changed") or ()),
    )


def type_props(record: ContextTypeRecord, workspace: str | None = None) -> dict[str, Any]:
    return {
        "workspace": workspace or record.workspace,
        "name": record.name,
        "schema": dump_json(record.schema),
        "version": int(record.version),
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
        "updated_by": record.updated_by,
    }


def type_record(props: Mapping[str, Any]) -> ContextTypeRecord:
    return ContextTypeRecord(
        workspace=props["workspace"],
        name=props["name"],
        schema=load_json(props["schema"]),
        version=props["version"],
        created_at=props["created_at"],
        updated_at=props["updated_at"],
        updated_by=props["updated_by"],
    )
