"""One write transaction, as narrow operations a backend executes; the rules are in `graph/tree.py`
(contexts, versions, types), `graph/knowledge/rules.py` (tools, executions, relationships) and
`graph/access_rules.py` (API keys).

A write is `await store.write(work)`: the backend opens ONE transaction, runs `work(tx)` (an
async function of the rules, which reads and writes through the `WriteTx` below) and commits
it, or rolls everything back when `work` raises. The backend may run `work` again after a
transient failure (a deadlock, a leader change), so `work` must do nothing but call `tx`.

Reads see the transaction's own writes. Writes may be buffered and sent together (one round
trip) before the next read or the commit, so a backend error surfaces there, never half-kept.

Serialisation: `lock_tree` orders every change of a workspace's tree shape (create, move,
delete, import) against the others; `heads(..., lock=True)` orders writes of single contexts.
LadybugDB admits one writer at a time, so there both are free; Neo4j takes write locks.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .access import ApiKeyRecord, AuditRecord
from .knowledge.records import (
    Derivation, ExecutionRecord, NodeRef, RelationshipRecord, SourceRef, ToolRecord, ToolVersionRecord,
)
from .records import ContextRecord, ContextTypeRecord, VersionRecord

T = TypeVar("T")

Work = Callable[["WriteTx"], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Move:
    """One context whose path changes with a moved subtree."""

    id: str
    old_path: str
    new_path: str


@dataclass(frozen=True, slots=True)
class WriteEffects:
    """What a write implies besides its own records, committed in the same transaction.

    `derived_from` maps a written context's id to the sources it was derived from: each of
    those contexts gets lineage, naming `execution_id` when a tool run produced it.
    """

    audit: Sequence[AuditRecord] = ()
    derived_from: dict[str, Sequence[SourceRef]] = field(default_factory=dict)
    execution_id: str | None = None


NO_EFFECTS = WriteEffects()

# What `purge_workspace` counts, in the order it is reported.
PURGED = ("contexts", "versions", "contextTypes", "relationships", "tools", "toolVersions", "agents",
          "executions", "lineageNodes", "apiKeys", "auditEntries")


class WriteTx(abc.ABC):
    """The statements of one open write transaction (see the module docstring)."""

    # -- reads (inside the transaction) ------------------------------------------------------

    @abc.abstractmethod
    async def lock_tree(self, workspace: str) -> None:
        """Serialise this transaction against every other tree-shape change of `workspace`."""

    @abc.abstractmethod
    async def heads(self, workspace: str, ids: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        """Current state of contexts by id (absent when missing); with `lock`, write-locked first."""

    @abc.abstractmethod
    async def at_paths(self, workspace: str, paths: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        """Contexts by path (absent when missing); with `lock`, write-locked first."""

    @abc.abstractmethod
    async def taken_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` name a context of ANY workspace (ids are unique store-wide)."""

    @abc.abstractmethod
    async def taken_versions(self, workspace: str, version_ids: Sequence[str]) -> set[str]:
        """Which of the version ids (`context_id:number`) exist in `workspace`."""

    @abc.abstractmethod
    async def type_versions(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, int]:
        """Version of each context type of `workspace` that exists; with `lock`, write-locked first."""

    @abc.abstractmethod
    async def descendants(self, workspace: str, root: ContextRecord) -> list[tuple[str, str]]:
        """(id, path) of every context below `root`, not `root` itself."""

    @abc.abstractmethod
    async def count_kind(self, workspace: str, kind: str) -> int:
        """How many contexts of `workspace` are of `kind`."""

    @abc.abstractmethod
    async def context_ids(self, workspace: str) -> list[str]:
        """Ids of every context of `workspace`."""

    @abc.abstractmethod
    async def execution_exists(self, workspace: str, execution_id: str) -> bool:
        """Whether a tool execution of `workspace` has this id."""

    # -- reads of the knowledge graph and access areas (rules in graph/knowledge/rules.py and
    #    graph/access_rules.py) ----------------------------------------------------------------

    @abc.abstractmethod
    async def tools(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, ToolRecord]:
        """Tools by name (absent when missing); with `lock`, write-locked first."""

    @abc.abstractmethod
    async def tool_versions(self, workspace: str, name: str, versions: Sequence[str]) -> dict[str, ToolVersionRecord]:
        """Versions of a tool by version string (absent when missing)."""

    @abc.abstractmethod
    async def taken_execution_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` name an execution of ANY workspace (ids are unique store-wide)."""

    @abc.abstractmethod
    async def relationship(
        self, workspace: str, source_id: str, target: NodeRef, type: str
    ) -> RelationshipRecord | None:
        """The edge (source context, target, type), if it exists."""

    @abc.abstractmethod
    async def api_keys(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, ApiKeyRecord]:
        """API keys by id, whatever their workspace (absent when missing); with `lock`, write-locked first."""

    @abc.abstractmethod
    async def taken_audit_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` name an audit entry of ANY workspace."""

    @abc.abstractmethod
    async def agent_ids(self, workspace: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` name an agent node of `workspace`."""

    @abc.abstractmethod
    async def derived(self, ids: Sequence[str]) -> set[str]:
        """Which of these context ids already have lineage recorded (derived from, or produced by)."""

    # -- writes (may be buffered until the next read or the commit) --------------------------

    @abc.abstractmethod
    async def insert_contexts(self, records: Sequence[ContextRecord]) -> None:
        """New contexts, parents first, each linked to its `parent_id` (checked to exist)."""

    @abc.abstractmethod
    async def insert_versions(self, versions: Sequence[VersionRecord]) -> None:
        """New versions of contexts that exist (or are inserted earlier in this transaction)."""

    @abc.abstractmethod
    async def insert_types(self, types: Sequence[ContextTypeRecord]) -> None:
        ...

    @abc.abstractmethod
    async def replace_type(self, record: ContextTypeRecord) -> None:
        """Overwrite a context type's schema, version and timestamps."""

    @abc.abstractmethod
    async def delete_type(self, workspace: str, name: str) -> None:
        ...

    @abc.abstractmethod
    async def purge_workspace(self, workspace: str) -> dict[str, int]:
        """Remove every record of `workspace` but its index tasks; how many of each kind went
        (keys: the `PURGED` names)."""

    @abc.abstractmethod
    async def set_state(self, record: ContextRecord) -> None:
        """Overwrite a context's fields except identity and place in the tree."""

    @abc.abstractmethod
    async def move(self, workspace: str, root: ContextRecord, new_parent_id: str | None, moves: Sequence[Move]) -> None:
        """Rewrite the paths of a moved subtree and re-link its root (`root` is its new state)."""

    @abc.abstractmethod
    async def delete(self, workspace: str, doomed: Sequence[tuple[str, str]]) -> None:
        """Remove contexts (id, path) with all their versions."""

    @abc.abstractmethod
    async def enqueue_index(self, workspace: str, items: Sequence[tuple[str, int]]) -> None:
        """Search-index outbox tasks: (context id, first version to index or `NO_HISTORY`)."""

    @abc.abstractmethod
    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        ...

    @abc.abstractmethod
    async def record_derivation(self, derivation: Derivation) -> None:
        """Lineage edges of one version (sources and execution checked to exist by the caller)."""

    @abc.abstractmethod
    async def insert_tool(self, tool: ToolRecord, latest_key: str) -> None:
        """A new tool; `latest_key` is the sort key of its `latest` version."""

    @abc.abstractmethod
    async def replace_tool(self, tool: ToolRecord, latest_key: str | None = None) -> None:
        """Overwrite a tool's latest, retirement, permissions and `updated_at` (and `latest_key` when given)."""

    @abc.abstractmethod
    async def insert_tool_version(self, version: ToolVersionRecord) -> None:
        """A new version of a tool that exists (or is inserted earlier in this transaction)."""

    @abc.abstractmethod
    async def set_tool_deprecated(self, workspace: str, name: str, version: str, deprecated: bool) -> None:
        ...

    @abc.abstractmethod
    async def insert_execution(self, record: ExecutionRecord) -> None:
        ...

    @abc.abstractmethod
    async def finish_execution(self, record: ExecutionRecord) -> None:
        """Store an execution's outcome: status, output, error, finish time, duration, output context."""

    @abc.abstractmethod
    async def ensure_agent(self, workspace: str, agent_id: str, at: int) -> None:
        """The agent node of a principal id, created at `at` unless it exists."""

    @abc.abstractmethod
    async def insert_relationship(self, record: RelationshipRecord) -> None:
        """A new edge between nodes that exist (or are created earlier in this transaction)."""

    async def insert_relationships(self, records: Sequence[RelationshipRecord]) -> None:
        """Many new edges (a restore); a backend that can writes them in one statement."""
        for record in records:
            await self.insert_relationship(record)

    async def insert_executions(self, records: Sequence[ExecutionRecord]) -> None:
        """Many new executions (a restore); a backend that can writes them in one statement."""
        for record in records:
            await self.insert_execution(record)

    async def record_derivations(self, derivations: Sequence[Derivation]) -> None:
        """Lineage of many versions (a restore); a backend that can writes it in one statement."""
        for derivation in derivations:
            await self.record_derivation(derivation)

    @abc.abstractmethod
    async def delete_relationship(self, workspace: str, source_id: str, target: NodeRef, type: str) -> None:
        ...

    @abc.abstractmethod
    async def insert_api_key(self, record: ApiKeyRecord) -> None:
        ...

    @abc.abstractmethod
    async def replace_api_key(self, record: ApiKeyRecord) -> None:
        """Overwrite a key's `expires_at`, `revoked_at` and `replaced_by` (the rest never changes)."""
