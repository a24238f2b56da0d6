"""Backups: every record of a workspace as JSON Lines, and back, verbatim (ids, versions and
timestamps kept). The format is documented in README.md ("Backup and restore").

Format version 2, one JSON object per line, `type` naming the record, in this order:
`header` (format, version, workspace, `exportedAt`, estimated `counts`); every `contextType`;
each `context` (parents before children) followed by its `version`s; each `tool` followed
by its `toolVersion`s; `execution`s; `agent`s; `relationship`s (their type as `relation`); `lineage` (one derivation of
one version); `apiKey`s (salted hashes, never secrets); `audit` entries; and last `end`, with
the exact number of lines of each type. Records only refer to records before them, so an
import writes them in order, in bounded transactions, and every committed prefix is a
consistent workspace. Fields are the record's own (snake_case), without `workspace`.

Version 1 files (contexts, versions and context types, no `end`) still import.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import Any

from . import keyset
from .access import ApiKeyRecord, AuditRecord
from .errors import BadUserInputError, ConflictError
from .filters import Order
from .knowledge.records import (
    Derivation, ExecutionFilter, ExecutionRecord, NodeRef, RelationshipRecord, SourceRef, ToolFilter, ToolRecord,
    ToolVersionRecord,
)
from .records import ContextRecord, ContextTypeRecord, Page, VersionRecord
from .restore import Batch, Restored
from .store import GraphStore

FORMAT = "contextql-export"
FORMAT_VERSION = 2
READABLE = (1, 2)
BATCH = 500  # records per transaction (a unit, such as a context with its versions, is never split)

Progress = Callable[[int], None]
Line = dict[str, Any]

# Line types that hang on to the unit before them (never start a batch).
_TRAILING = {"version", "toolVersion"}


async def export_workspace(store: GraphStore, workspace: str) -> AsyncGenerator[Line, None]:
    """The lines of a backup of `workspace`, read page by page (never the whole workspace at once).

    Where the store can (`GraphStore.frozen`: the embedded store, whose only writer is this
    process), writes wait until the export is done, so it is one instant's state, and the
    header says `pointInTime: true`. Elsewhere (Neo4j) each record is read whole but writes go
    on between pages: for an exact copy, nothing may write to the workspace meanwhile. Close
    the generator when abandoning it early (`contextlib.aclosing`), or the writes keep waiting.
    """
    async with store.frozen() as exact:
        async for line in _export(store, workspace, exact):
            yield line


async def _export(store: GraphStore, workspace: str, exact: bool) -> AsyncIterator[Line]:
    counts = Counter[str]()

    def line(kind: str, record: Any) -> Line:
        counts[kind] += 1
        fields = _fields(record)
        if kind == "relationship":  # its own `type` would clash with the line's
            fields["relation"] = fields.pop("type")
        return {"type": kind, **fields}

    yield {
        "type": "header", "format": FORMAT, "formatVersion": FORMAT_VERSION, "workspace": workspace,
        "exportedAt": time.time_ns() // 1000, "pointInTime": exact, "counts": await _estimate(store, workspace),
    }
    for context_type in await store.list_context_types(workspace):
        yield line("contextType", context_type)
    async for batch in _context_pages(store, workspace):
        versions = await store.versions_of(workspace, [c.id for c in batch])
        for record in batch:
            yield line("context", record)
            for version in versions.get(record.id, []):
                yield line("version", version)

    tools_after: tuple[Any, ...] | None = None
    while tools := await store.find_tools(workspace, ToolFilter(retired=None), Page(BATCH, tools_after)):
        for tool, _ in tools:
            yield line("tool", tool)
            for tool_version in reversed(await store.get_tool_versions(workspace, tool.name)):
                yield line("toolVersion", tool_version)
        tools_after = keyset.position(tools[-1][0], keyset.TOOLS)

    runs_after: tuple[Any, ...] | None = None
    while runs := await store.find_executions(workspace, ExecutionFilter(), Page(BATCH, runs_after)):
        for run in runs:
            yield line("execution", run)
        runs_after = keyset.position(runs[-1], keyset.EXECUTIONS)

    for agent_id, created_at in await store.agents(workspace):
        counts["agent"] += 1
        yield {"type": "agent", "id": agent_id, "created_at": created_at}
    async for batch in _context_pages(store, workspace):
        for edge in await store.edges_from(workspace, [c.id for c in batch]):
            yield line("relationship", edge)

    lineage_after: str | None = ""
    while lineage_after is not None:
        derivations, lineage_after = await store.lineage_page(workspace, lineage_after, BATCH)
        for derivation in derivations:
            yield line("lineage", derivation)

    for key in await store.list_api_keys(workspace):
        yield line("apiKey", key)
    audit_after: tuple[Any, ...] | None = None
    while entries := await store.list_audit(workspace, Page(BATCH, audit_after)):
        for entry in entries:
            yield line("audit", entry)
        audit_after = keyset.position(entries[-1], keyset.AUDIT)
    yield {"type": "end", "counts": dict(sorted(counts.items()))}


async def _context_pages(store: GraphStore, workspace: str) -> AsyncIterator[list[ContextRecord]]:
    order = [Order("depth"), Order("path")]
    after = None
    while batch := await store.find_contexts(workspace, None, order, Page(BATCH, after)):
        yield batch
        after = keyset.position(batch[-1], keyset.contexts(order))


async def _estimate(store: GraphStore, workspace: str) -> dict[str, int]:
    """What the workspace holds as the export starts (the `end` line has the exact counts)."""
    return {
        "contextType": len(await store.list_context_types(workspace)),
        "context": await store.count_contexts(workspace, None),
        "tool": await store.count_tools(workspace, ToolFilter(retired=None)),
        "execution": await store.count_executions(workspace, ExecutionFilter()),
        "apiKey": len(await store.list_api_keys(workspace)),
        "audit": await store.count_audit(workspace),
    }


@dataclasses.dataclass(frozen=True, slots=True)
class ImportResult:
    counts: Restored

    @property
    def imported(self) -> int:  # contexts inserted now
        return self.counts.written["contexts"]

    @property
    def skipped(self) -> int:  # contexts already there (a resumed import)
        return self.counts.skipped["contexts"]


async def import_workspace(
    store: GraphStore,
    lines: Iterable[Line],
    workspace: str | None = None,
    progress: Progress | None = None,
    *,
    resume: bool = False,
) -> ImportResult:
    """Import exported lines into an empty `workspace` (default: the exported one).

    Each batch is one transaction. The target must be empty, unless `resume`: then records
    already there (an import that was interrupted, or ran before) are skipped and counted, and
    the rest is inserted. Ids are unique store-wide, so a backup is restored into a store that
    does not hold its records under another workspace (see README).
    """
    iterator = iter(lines)
    header = next(iterator, None)
    if not isinstance(header, dict) or header.get("type") != "header" or header.get("format") != FORMAT:
        raise BadUserInputError("Not a ContextQL export: the first line must be its header.")
    version = header.get("formatVersion")
    if version not in READABLE:
        raise BadUserInputError(f"Unsupported export format version {version!r} (this ContextQL reads "
                                f"{', '.join(map(str, READABLE))}).")
    source = header["workspace"]
    target = workspace or source
    if not resume and (held := await _holdings(store, target)):
        raise BadUserInputError(
            f"Workspace {target!r} already has {held}: import into an empty workspace, delete this one first "
            "(deleteWorkspace), or pass --resume to finish an earlier run of this import."
        )
    batch = Batch(target)
    total = Restored()
    seen = Counter[str]()
    end: Line | None = None
    unit = ""

    async def flush() -> None:
        nonlocal batch
        if not batch.size():
            return
        try:
            total.add(await store.restore(batch, skip_present=resume))
        except ConflictError as error:
            if target != source:
                hint = (f"Ids are unique across the workspaces of a store, and workspace {source!r} may still hold "
                        "these records here: restore under another name only in another store, or delete "
                        f"{source!r} first (deleteWorkspace) and restore it as it was.")
            else:
                hint = ("Ids are unique across the workspaces of a store: restore into a store that does not hold "
                        "them, or, to finish an interrupted run of this import, pass --resume.")
            raise ConflictError(f"{error.message} {hint}", **error.details) from None
        if progress:
            progress(batch.size())
        batch = Batch(target)

    for number, line in enumerate(iterator, start=2):
        if end is not None:
            raise BadUserInputError(f"Line {number}: lines after the end record.")
        kind = line.get("type") if isinstance(line, dict) else None
        if kind == "end":
            end = line
            continue
        seen[str(kind)] += 1
        if kind not in _TRAILING:
            starts = _unit(kind, line, number)
            if starts != unit and batch.size() >= BATCH:
                await flush()
            unit = starts
        try:
            _add(batch, str(kind), {k: v for k, v in line.items() if k not in ("type", "workspace")}, source, target)
        except (TypeError, KeyError, AttributeError) as error:
            raise BadUserInputError(f"Line {number}: malformed {kind} ({error}).") from None
    await flush()
    if version >= 2:
        if end is None:
            raise BadUserInputError("The export is truncated (it has no end line): what it held is imported; "
                                    "export again, then import with --resume to complete it.")
        expected = {k: int(v) for k, v in end.get("counts", {}).items() if v}
        if expected != dict(seen):
            raise BadUserInputError(f"The export does not hold what its end line counts ({expected} expected, "
                                    f"{dict(seen)} read).")
    return ImportResult(total)


def _unit(kind: Any, line: Line, number: int) -> str:
    """The unit a line starts or continues. A batch never splits one: a context or tool with
    the versions after it, all lineage of one context (a rerun skips it as a whole)."""
    return f"lineage:{line.get('context_id')}" if kind == "lineage" else str(number)


def _add(batch: Batch, kind: str, fields: dict[str, Any], source: str, target: str) -> None:
    f: dict[str, Any] = {**fields, "workspace": target}
    if kind == "contextType":
        batch.types.append(ContextTypeRecord(**f))
    elif kind == "context":
        batch.contexts.append(ContextRecord(**f))
    elif kind == "version":
        batch.versions.append(VersionRecord(**f))
    elif kind == "tool":
        batch.tools.append(ToolRecord(**f))
    elif kind == "toolVersion":
        batch.tool_versions.append(ToolVersionRecord(**f))
    elif kind == "execution":
        batch.executions.append(ExecutionRecord(**f))
    elif kind == "agent":
        batch.agents.append((str(f["id"]), int(f["created_at"])))
    elif kind == "relationship":
        edge = {k: v for k, v in f.items() if k != "relation"} | {"type": f["relation"]}
        batch.relationships.append(RelationshipRecord(
            **{**edge, "source": NodeRef(**f["source"]), "target": NodeRef(**f["target"])}))
    elif kind == "lineage":
        batch.lineage.append(Derivation(**{**f, "sources": [SourceRef(**s) for s in f["sources"]]}))
    elif kind == "apiKey":
        # Where the key may act follows the workspace it is restored into.
        acts = [target if name == source else name for name in f.get("workspaces", [])]
        batch.api_keys.append(ApiKeyRecord(**{**f, "workspaces": acts}))
    elif kind == "audit":
        batch.audit.append(AuditRecord(**f))
    else:
        raise BadUserInputError(f"Unknown line type {kind!r}.")


async def _holdings(store: GraphStore, workspace: str) -> str:
    """What a workspace already holds, in words ("" when empty)."""
    counts = await _estimate(store, workspace)
    names = {"context": "context(s)", "contextType": "context type(s)", "tool": "tool(s)",
             "execution": "execution(s)", "apiKey": "API key(s)", "audit": "audit entr(ies)"}
    return ", ".join(f"{n} {names[k]}" for k, n in counts.items() if n)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) if f.name not in ("source", "target", "sources")
            else _plain(getattr(record, f.name)) for f in dataclasses.fields(record) if f.name != "workspace"}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
