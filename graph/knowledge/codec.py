"""Records <-> flat property maps, shared by the backends (JSON documents stored as text)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .records import (
    Derivation, ExecutionRecord, NodeRef, RelationshipRecord, SourceRef, ToolRecord, ToolVersionRecord,
)

SEP = "\x00"

TOOL_FIELDS = ("workspace", "name", "latest", "retired", "permissions", "created_at", "updated_at", "created_by")
VERSION_FIELDS = (
    "workspace", "name", "version", "sort_key", "description", "kind", "input_schema", "output_schema",
    "config", "tags", "deprecated", "created_at", "created_by",
)
EXECUTION_FIELDS = (
    "id", "workspace", "tool", "tool_version", "status", "input", "output", "error", "principal",
    "started_at", "finished_at", "duration_ms", "context_id", "output_context_id",
)
EDGE_FIELDS = ("type", "properties", "weight", "created_at", "created_by")


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load(text: str | None) -> Any:
    return None if text is None or text == "" else json.loads(text)


def key(*parts: str) -> str:
    return SEP.join(parts)


def edge_key(target: NodeRef, type: str) -> str:
    """Identifies an edge among the edges of one source context."""
    return f"{target.kind}:{target.id}{SEP}{type}"


def tool_props(rec: ToolRecord) -> dict[str, Any]:
    return {
        "key": key(rec.workspace, rec.name), "id": rec.name, "workspace": rec.workspace, "name": rec.name,
        "latest": rec.latest, "retired": bool(rec.retired), "permissions": dump(rec.permissions),
        "created_at": int(rec.created_at), "updated_at": int(rec.updated_at), "created_by": rec.created_by,
    }


def tool_record(values: Mapping[str, Any]) -> ToolRecord:
    return ToolRecord(
        workspace=values["workspace"], name=values["name"], latest=values["latest"], retired=bool(values["retired"]),
        permissions=load(values["permissions"]) or {}, created_at=int(values["created_at"]),
        updated_at=int(values["updated_at"]), created_by=values["created_by"],
    )


def version_props(rec: ToolVersionRecord) -> dict[str, Any]:
    return {
        "key": key(rec.workspace, rec.name, rec.version), "workspace": rec.workspace, "name": rec.name,
        "version": rec.version, "sort_key": rec.sort_key, "description": rec.description, "kind": rec.kind,
        "input_schema": dump(rec.input_schema), "output_schema": dump(rec.output_schema),
        "config": dump(rec.config), "tags": list(rec.tags), "deprecated": bool(rec.deprecated),
        "created_at": int(rec.created_at), "created_by": rec.created_by,
    }


def version_record(values: Mapping[str, Any]) -> ToolVersionRecord:
    return ToolVersionRecord(
        workspace=values["workspace"], name=values["name"], version=values["version"], sort_key=values["sort_key"],
        description=values["description"], kind=values["kind"], input_schema=load(values["input_schema"]) or {},
        output_schema=load(values["output_schema"]) or {}, config=load(values["config"]) or {},
        tags=list(values["tags"] or []), deprecated=bool(values["deprecated"]),
        created_at=int(values["created_at"]), created_by=values["created_by"],
    )


def execution_props(rec: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "workspace": rec.workspace, "tool": rec.tool, "tool_version": rec.tool_version,
        "status": rec.status, "input": dump(rec.input), "output": dump(rec.output),
        "error": rec.error or "", "principal": rec.principal, "started_at": int(rec.started_at),
        "finished_at": -1 if rec.finished_at is None else int(rec.finished_at),
        "duration_ms": -1 if rec.duration_ms is None else int(rec.duration_ms),
        "context_id": rec.context_id or "", "output_context_id": rec.output_context_id or "",
    }


def execution_record(values: Mapping[str, Any]) -> ExecutionRecord:
    finished, duration = int(values["finished_at"]), int(values["duration_ms"])
    return ExecutionRecord(
        id=values["id"], workspace=values["workspace"], tool=values["tool"], tool_version=values["tool_version"],
        status=values["status"], input=load(values["input"]), output=load(values["output"]),
        error=values["error"] or None, principal=values["principal"], started_at=int(values["started_at"]),
        finished_at=None if finished < 0 else finished, duration_ms=None if duration < 0 else duration,
        context_id=values["context_id"] or None, output_context_id=values["output_context_id"] or None,
    )


def edge_props(rec: RelationshipRecord) -> dict[str, Any]:
    return {
        "key": edge_key(rec.target, rec.type), "type": rec.type, "properties": dump(rec.properties),
        "weight": float(rec.weight), "created_at": int(rec.created_at), "created_by": rec.created_by,
    }


def edge_record(workspace: str, source: NodeRef, target: NodeRef, values: Mapping[str, Any]) -> RelationshipRecord:
    return RelationshipRecord(
        workspace=workspace, source=source, target=target, type=values["type"],
        properties=load(values["properties"]) or {}, weight=float(values["weight"]),
        created_at=int(values["created_at"]), created_by=values["created_by"],
    )


LABEL_KINDS = {"Context": "context", "Tool": "tool", "Agent": "agent"}
KIND_LABELS = {kind: label for label, kind in LABEL_KINDS.items()}


def derivations(
    workspace: str, origins: Sequence[tuple[str, str]], derived: Iterable[Sequence[Any]], produced: Iterable[Sequence[Any]]
) -> list[Derivation]:
    """The lineage of some lineage nodes as `Derivation`s, the way `record_derivation` wrote it.

    `origins`: (id, path) in order; `derived`: (id, source id, source path, version, source
    version, execution id or "", created_at) per DERIVED_FROM edge; `produced`: (id, version,
    execution id) per PRODUCED_BY edge. Edges written by one derivation share (version,
    execution, created_at); a run that produced a version from no source left only its
    PRODUCED_BY edge, and no time, so it comes back with `created_at` 0 (nothing reads it).
    """
    found: dict[tuple[str, int, str | None, int], Derivation] = {}
    paths = dict(origins)
    for oid, sid, spath, version, source_version, execution, at in derived:
        key = (oid, int(version), execution or None, int(at))
        entry = found.setdefault(key, Derivation(workspace, oid, paths[oid], int(version), [], execution or None, int(at)))
        entry.sources.append(SourceRef(sid, spath, int(source_version)))
    with_sources = {key[:3] for key in found}
    for oid, version, execution in produced:
        if (oid, int(version), execution) not in with_sources:
            found[(oid, int(version), execution, 0)] = Derivation(workspace, oid, paths[oid], int(version), [], execution, 0)
    order = {oid: n for n, (oid, _) in enumerate(origins)}
    result = sorted(found.values(), key=lambda d: (order[d.context_id], d.version, d.execution_id or "", d.created_at))
    for entry in result:
        entry.sources.sort(key=lambda s: (s.id, s.version))
    return result
