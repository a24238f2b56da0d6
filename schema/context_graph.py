"""Fields of `Context` about the graph around it: relationships, traversal, provenance, runs."""

from __future__ import annotations

import strawberry

from contextql.graph.knowledge.records import ExecutionFilter
from contextql.graph.records import ContextRecord
from contextql.resolvers import executions, provenance, relationships

from .connections import Connection, connection
from .knowledge_types import (
    Agent,
    Direction,
    Execution,
    Info_,
    LineageGraph,
    Neighbor,
    Relationship,
    Subgraph,
)


@strawberry.type
class ContextGraphFields:
    record: strawberry.Private[ContextRecord]

    @strawberry.field(description="The principal that created this context.")
    def author(self) -> Agent:
        return Agent(id=self.record.created_by)

    @strawberry.field(description="Relationships of this context, by type (direction OUT, IN or BOTH).")
    async def related(
        self, info: Info_, type: str | None = None, direction: Direction = Direction.BOTH, first: int = 50
    ) -> list[Relationship]:
        found = await relationships.related(info.context, self.record, type, direction.value, first)
        return [Relationship(record=r) for r in found]

    @strawberry.field(description="Nodes within `depth` hops (1-4) along relationships of `types` (all when omitted), nearest first.")
    async def neighbors(
        self, info: Info_, depth: int = 1, types: list[str] | None = None, first: int = 50
    ) -> list[Neighbor]:
        from .knowledge_types import GraphNode

        found = await relationships.neighbors(info.context, self.record, depth, types, first)
        return [Neighbor(node=GraphNode.of(n.node), distance=n.distance) for n in found]

    @strawberry.field(name="pathTo", description="A shortest path (either direction) to the context at `to`; null if none within `maxDepth` (1-8).")
    async def path_to(
        self, info: Info_, to: str, max_depth: int = 4, types: list[str] | None = None
    ) -> Subgraph | None:
        found = await relationships.path(info.context, self.record, to, max_depth, types)
        return None if found is None else Subgraph.of(found)

    @strawberry.field(description="Where this context came from: what it was derived from, and by which executions, `depth` generations back.")
    async def provenance(self, info: Info_, depth: int = 3) -> LineageGraph:
        return LineageGraph.of(await provenance.back(info.context, self.record, depth))

    @strawberry.field(name="descendantsOf", description="What was derived from this context, `depth` generations forward.")
    async def derived_descendants(self, info: Info_, depth: int = 3) -> LineageGraph:
        return LineageGraph.of(await provenance.forward(info.context, self.record, depth))

    @strawberry.field(description="Tool runs about this context or that wrote it, newest first.")
    async def executions(self, info: Info_, first: int | None = None, after: str | None = None) -> Connection[Execution]:
        where = ExecutionFilter(context_id=self.record.id)
        page = await executions.find(info.context, where, first, after)
        return connection(page, lambda r: Execution(record=r), lambda: executions.count(info.context, where))
