"""The rule of restoring a backup: one batch of exported records, written verbatim in ONE
transaction (ids, versions and timestamps kept), for every backend over `graph/writes.WriteTx`.

A batch holds whole units: a context with its versions, a tool with its versions, all the
lineage of one context. Records refer only to records of earlier batches or of the same
batch (the export's order, `graph/transfer.py`), so every committed prefix of an import is a
consistent workspace. With `skip_present` (a rerun of an interrupted import), what is
already stored, by id or natural key, is counted as skipped instead of conflicting;
without it, a taken id is a `ConflictError` and nothing of the batch is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

from . import tree
from .access import ApiKeyRecord, AuditRecord
from .errors import ConflictError, NotFoundError
from .knowledge.records import Derivation, ExecutionRecord, RelationshipRecord, ToolRecord, ToolVersionRecord
from .records import ContextRecord, ContextTypeRecord, VersionRecord
from .writes import WriteTx

# The kinds a restore counts, in the order of the export (and of `Restored`).
KINDS = ("contextTypes", "contexts", "versions", "tools", "toolVersions", "executions", "agents",
         "relationships", "lineage", "apiKeys", "auditEntries")


@dataclass(slots=True)
class Batch:
    """Records of one transaction; every one of `workspace`."""

    workspace: str
    types: list[ContextTypeRecord] = field(default_factory=list)
    contexts: list[ContextRecord] = field(default_factory=list)
    versions: list[VersionRecord] = field(default_factory=list)
    tools: list[ToolRecord] = field(default_factory=list)
    tool_versions: list[ToolVersionRecord] = field(default_factory=list)
    executions: list[ExecutionRecord] = field(default_factory=list)
    agents: list[tuple[str, int]] = field(default_factory=list)
    relationships: list[RelationshipRecord] = field(default_factory=list)
    lineage: list[Derivation] = field(default_factory=list)
    api_keys: list[ApiKeyRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(getattr(self, name)) for name in self.__slots__ if name != "workspace")


@dataclass(slots=True)
class Restored:
    """How many records of each kind (`KINDS`) a batch wrote, and how many were already there."""

    written: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, other: Restored) -> None:
        self.written.update(other.written)
        self.skipped.update(other.skipped)


async def restore(tx: WriteTx, batch: Batch, *, skip_present: bool = False) -> Restored:
    ws = batch.workspace
    done = Restored()

    def count(kind: str, total: int, kept: int) -> None:
        done.written[kind] += kept
        done.skipped[kind] += total - kept

    # What is there before the insert, only to count it: `insert` itself skips it.
    versions_there = await tx.taken_versions(ws, [v.id for v in batch.versions]) if skip_present else set()
    types_there = await tx.type_versions(ws, [t.name for t in batch.types]) if skip_present and batch.types else {}
    written = await tree.insert(tx, ws, batch.contexts, batch.versions, batch.types, adopt=False,
                                skip_present=skip_present)
    count("contextTypes", len(batch.types), len(batch.types) - len(types_there))
    count("contexts", len(batch.contexts), len(written))
    count("versions", len(batch.versions), len(batch.versions) - len(versions_there))

    await _tools(tx, batch, skip_present, count)

    runs = batch.executions
    anywhere = await tx.taken_execution_ids([e.id for e in runs]) if runs else set()
    ours = {i for i in anywhere if await tx.execution_exists(ws, i)}
    _refuse_foreign("Execution", ours, anywhere)
    runs = _fresh("Execution", runs, ours, skip_present, lambda e: e.id)
    await tx.insert_executions(runs)
    count("executions", len(batch.executions), len(runs))

    agents = batch.agents
    if agents:
        there = await tx.agent_ids(ws, [agent_id for agent_id, _ in agents])
        agents = _fresh("Agent", agents, there, skip_present, lambda a: a[0])
        for agent_id, at in agents:
            await tx.ensure_agent(ws, agent_id, at)
    count("agents", len(batch.agents), len(agents))

    edges = batch.relationships
    if skip_present:
        edges = [r for r in edges if await tx.relationship(ws, r.source.id, r.target, r.type) is None]
    await tx.insert_relationships(edges)
    count("relationships", len(batch.relationships), len(edges))

    lineage = batch.lineage
    if lineage:
        there = await tx.derived(list(dict.fromkeys(d.context_id for d in lineage)))
        lineage = _fresh("Lineage of context", lineage, there, skip_present, lambda d: d.context_id)
        await tx.record_derivations(lineage)
    count("lineage", len(batch.lineage), len(lineage))

    keys = batch.api_keys
    if keys:
        stored = await tx.api_keys([k.id for k in keys])
        _refuse_foreign("API key", {i for i, k in stored.items() if k.workspace == ws}, set(stored))
        keys = _fresh("API key", keys, set(stored), skip_present, lambda k: k.id)
        for key in keys:
            await tx.insert_api_key(key)
    count("apiKeys", len(batch.api_keys), len(keys))

    entries = batch.audit
    if entries:
        entries = _fresh("Audit entry", entries, await tx.taken_audit_ids([e.id for e in entries]), skip_present,
                         lambda e: e.id)
        if entries:
            await tx.append_audit(entries)
    count("auditEntries", len(batch.audit), len(entries))
    return done


Count = Callable[[str, int, int], None]
T = TypeVar("T")


def _fresh(what: str, items: list[T], taken: Collection[str], skip_present: bool, key: Callable[[T], str]) -> list[T]:
    """The items not yet stored; a stored one is a conflict unless resuming."""
    if taken and not skip_present:
        first = next(key(item) for item in items if key(item) in taken)
        raise ConflictError(f"{what} {first} already exists.", ids=sorted(taken))
    return [item for item in items if key(item) not in taken]


def _refuse_foreign(what: str, ours: set[str], anywhere: set[str]) -> None:
    """Ids are unique store-wide: one held by another workspace is never 'already imported'."""
    foreign = sorted(anywhere - ours)
    if foreign:
        raise ConflictError(f"{what} {foreign[0]} belongs to another workspace of this store.", ids=foreign)


async def _tools(tx: WriteTx, batch: Batch, skip_present: bool, count: Count) -> None:
    ws = batch.workspace
    stored = await tx.tools(ws, [t.name for t in batch.tools]) if batch.tools else {}
    tools = _fresh("Tool", batch.tools, set(stored), skip_present, lambda t: t.name)
    by_tool: dict[str, list[ToolVersionRecord]] = {}
    for version in batch.tool_versions:
        by_tool.setdefault(version.name, []).append(version)
    for tool in tools:
        latest = next((v for v in by_tool.get(tool.name, []) if v.version == tool.latest), None)
        if latest is None:
            raise NotFoundError(f"Tool {tool.name!r} names latest version {tool.latest!r}, which the backup lacks.",
                                name=tool.name)
        await tx.insert_tool(tool, latest.sort_key)
    count("tools", len(batch.tools), len(tools))
    kept = 0
    for name, versions in by_tool.items():
        there = await tx.tool_versions(ws, name, [v.version for v in versions]) if name in stored else {}
        new = _fresh(f"Version of tool {name!r}", versions, set(there), skip_present, lambda v: v.version)
        for version in new:
            await tx.insert_tool_version(version)
        kept += len(new)
    count("toolVersions", len(batch.tool_versions), kept)
