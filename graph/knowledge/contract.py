"""Storage operations of tools, executions, relationships and provenance.

Part of the `GraphStore` contract (`GraphStore` inherits this class), held to the same
rules: every call is scoped to one workspace. These are the reads each backend implements; the
writes (publish, retire, run, relate, ...) are `GraphStore` methods written once, as the rules
of `graph/knowledge/rules.py` over `graph/writes.WriteTx`.

Relationships are typed, directed edges from a context to a context, a tool (by name)
or an agent (by principal id). An edge is identified by (source, target, type): relating
twice keeps one edge. Deleting a context removes its relationships with it.

Lineage is kept apart from the contexts, on one lineage node per context id that
remembers the path the context had when lineage was recorded. Deleting a context
therefore keeps the lineage of what was derived from it: the walk still shows the
deleted source, by id and recorded path.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ..records import Page
from .records import (
    Derivation,
    ExecutionFilter,
    ExecutionRecord,
    GraphView,
    Lineage,
    Neighbor,
    RelationshipRecord,
    ToolFilter,
    ToolRecord,
    ToolVersionRecord,
)


class KnowledgeGraphContract(abc.ABC):
    # -- tools ------------------------------------------------------------------------

    @abc.abstractmethod
    async def get_tools(self, workspace: str, names: Sequence[str]) -> dict[str, ToolRecord]:
        """Tools by name; unknown names are absent."""

    @abc.abstractmethod
    async def get_tool_versions(self, workspace: str, name: str) -> list[ToolVersionRecord]:
        """Every version of a tool, highest `sort_key` first ([] for an unknown tool)."""

    @abc.abstractmethod
    async def find_tools(
        self, workspace: str, where: ToolFilter, page: Page
    ) -> list[tuple[ToolRecord, ToolVersionRecord]]:
        """A page of tools with their latest version, by name (keys `graph.keyset.TOOLS`); filters
        apply to the latest version."""

    @abc.abstractmethod
    async def count_tools(self, workspace: str, where: ToolFilter) -> int:
        ...

    # -- executions ---------------------------------------------------------------------

    @abc.abstractmethod
    async def get_executions(self, workspace: str, ids: Sequence[str]) -> dict[str, ExecutionRecord]:
        ...

    @abc.abstractmethod
    async def find_executions(self, workspace: str, where: ExecutionFilter, page: Page) -> list[ExecutionRecord]:
        """A page of executions, newest (`started_at`) first, then by id (keys `graph.keyset.EXECUTIONS`)."""

    @abc.abstractmethod
    async def count_executions(self, workspace: str, where: ExecutionFilter) -> int:
        ...

    # -- relationships and traversal ----------------------------------------------------------

    @abc.abstractmethod
    async def relationships(
        self, workspace: str, context_id: str, type: str | None, direction: str, limit: int
    ) -> list[RelationshipRecord]:
        """Edges at a context (`direction`: out, in or both), by type, then target kind and id."""

    @abc.abstractmethod
    async def neighbors(
        self, workspace: str, context_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> list[Neighbor]:
        """Nodes within `depth` hops (either direction, only edges of `types` when given), each at
        its shortest distance, ordered by distance, kind, id; the start itself is not included."""

    @abc.abstractmethod
    async def shortest_path(
        self, workspace: str, source_id: str, target_id: str, max_depth: int, types: Sequence[str] | None
    ) -> GraphView | None:
        """One shortest path between two contexts (either direction): nodes and edges in path order,
        or None when there is none within `max_depth` hops."""

    @abc.abstractmethod
    async def subgraph(
        self, workspace: str, root_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> GraphView:
        """The root, up to `limit` nodes within `depth` hops, and every edge among the nodes returned."""

    # -- backup (graph/transfer.py): every record of a workspace, in pages ---------------------------

    @abc.abstractmethod
    async def edges_from(self, workspace: str, context_ids: Sequence[str]) -> list[RelationshipRecord]:
        """Every edge leaving these contexts, by source id, type, target kind and target id."""

    @abc.abstractmethod
    async def agents(self, workspace: str) -> list[tuple[str, int]]:
        """(id, created_at) of every agent node of the workspace, by id."""

    @abc.abstractmethod
    async def lineage_page(self, workspace: str, after: str, limit: int) -> tuple[list[Derivation], str | None]:
        """The recorded lineage of up to `limit` lineage nodes with ids greater than `after`, by id:
        one `Derivation` per (context, version, execution, time) with its sources, every path as the
        lineage node holds it; and the id to continue after (None when there is no more)."""

    # -- provenance ---------------------------------------------------------------------------------

    @abc.abstractmethod
    async def record_derivation(self, derivation: Derivation) -> None:
        """Record that a version of a context was derived from `sources` (and produced by an
        execution). `NotFoundError` if the execution does not exist."""

    @abc.abstractmethod
    async def lineage(
        self, workspace: str, context_id: str, forward: bool, depth: int, limit: int
    ) -> Lineage:
        """The lineage graph around a context: back (what it was derived from) or `forward` (what
        was derived from it), up to `depth` generations and `limit` nodes (the start included)."""


