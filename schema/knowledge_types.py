"""Object types of the knowledge graph: tools, executions, relationships, graph views, lineage."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from contextql.graph.knowledge.records import (
    CONTEXT,
    ExecutionFilter,
    ExecutionRecord,
    GraphView,
    Lineage,
    NodeRef,
    RelationshipRecord,
    ToolRecord,
    ToolVersionRecord,
)
from contextql.resolvers import contexts as ops, executions, tools
from contextql.resolvers.clock import to_datetime
from contextql.resolvers.request import RequestContext

from .connections import Connection, connection
from .enums import ExecutionStatus

if TYPE_CHECKING:
    from .types import Context

Info_ = Info[RequestContext, None]
ContextRef = Annotated["Context", strawberry.lazy("contextql.schema.types")]


def _context(record):
    from .types import Context

    return Context(record=record)


@strawberry.enum(description="Which relationships of a context: leaving it, arriving at it, or both.")
class Direction(Enum):
    OUT = "out"
    IN = "in"
    BOTH = "both"


@strawberry.type(description="A principal (person, agent or service) as a node of the graph.")
class Agent:
    id: str


@strawberry.type(description="Who may read, update (write) and execute a tool: \"*\", \"role:<r>\" or \"principal:<id>\".")
class ToolPermissions:
    read: list[str]
    write: list[str]
    execute: list[str]


@strawberry.type(description="One published version of a tool (immutable except for `deprecated`).")
class Tool:
    tool: strawberry.Private[ToolRecord]
    spec: strawberry.Private[ToolVersionRecord]

    @strawberry.field
    def name(self) -> str:
        return self.spec.name

    @strawberry.field(description="Semantic version.")
    def version(self) -> str:
        return self.spec.version

    @strawberry.field(description="The highest version of this tool.")
    def latest_version(self) -> str:
        return self.tool.latest

    @strawberry.field
    def description(self) -> str:
        return self.spec.description

    @strawberry.field(description="http or builtin.")
    def kind(self) -> str:
        return self.spec.kind

    @strawberry.field
    def input_schema(self) -> JSON:
        return JSON(self.spec.input_schema)

    @strawberry.field
    def output_schema(self) -> JSON:
        return JSON(self.spec.output_schema)

    @strawberry.field(description="The endpoint of an http tool.")
    def url(self) -> str | None:
        return self.spec.config.get("url")

    @strawberry.field
    def timeout_ms(self) -> int | None:
        return self.spec.config.get("timeoutMs")

    @strawberry.field
    def tags(self) -> list[str]:
        return self.spec.tags

    @strawberry.field(description="Still runnable, but flagged: prefer a newer version.")
    def deprecated(self) -> bool:
        return self.spec.deprecated

    @strawberry.field(description="A retired tool cannot run and takes no new versions.")
    def retired(self) -> bool:
        return self.tool.retired

    @strawberry.field
    def permissions(self) -> ToolPermissions:
        p = self.tool.permissions
        return ToolPermissions(read=p.get("read", []), write=p.get("write", []), execute=p.get("execute", []))

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.spec.created_at)

    @strawberry.field
    def created_by(self) -> Agent:
        return Agent(id=self.spec.created_by)

    @strawberry.field(description="Every version of this tool, highest first.")
    async def versions(self, info: Info_) -> list[Tool]:
        return [Tool(tool=self.tool, spec=v) for v in await tools.versions(info.context, self.tool)]

    @strawberry.field(description="Runs of this tool (any version), newest first.")
    async def executions(self, info: Info_, first: int | None = None, after: str | None = None) -> Connection[Execution]:
        where = ExecutionFilter(tool=self.spec.name)
        page = await executions.find(info.context, where, first, after)
        return connection(page, lambda r: Execution(record=r), lambda: executions.count(info.context, where))


@strawberry.type(description="One run of a tool: what it consumed and produced.")
class Execution:
    record: strawberry.Private[ExecutionRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def status(self) -> ExecutionStatus:
        return ExecutionStatus(self.record.status)

    @strawberry.field
    def tool_name(self) -> str:
        return self.record.tool

    @strawberry.field
    def tool_version(self) -> str:
        return self.record.tool_version

    @strawberry.field
    def input(self) -> JSON:
        return self.record.input

    @strawberry.field
    def output(self) -> JSON | None:
        return self.record.output

    @strawberry.field(description="Why the run failed or timed out.")
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field
    def principal(self) -> Agent:
        return Agent(id=self.record.principal)

    @strawberry.field
    def started_at(self) -> datetime:
        return to_datetime(self.record.started_at)

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return None if self.record.finished_at is None else to_datetime(self.record.finished_at)

    @strawberry.field
    def duration_ms(self) -> int | None:
        return self.record.duration_ms

    @strawberry.field(description="The tool (version) that ran; null if it is no longer readable.")
    async def tool(self, info: Info_) -> Tool | None:
        found = await tools.get(info.context, self.record.tool, self.record.tool_version)
        return None if found is None else Tool(tool=found[0], spec=found[1])

    @strawberry.field(description="The context the run was about (`contextPath`), if it still exists.")
    async def context(self, info: Info_) -> ContextRef | None:
        found = None if self.record.context_id is None else await ops.by_id(info.context, self.record.context_id)
        return None if found is None else _context(found)

    @strawberry.field(description="The context the run wrote (`outputPath`), if it still exists.")
    async def output_context(self, info: Info_) -> ContextRef | None:
        cid = self.record.output_context_id
        found = None if cid is None else await ops.by_id(info.context, cid)
        return None if found is None else _context(found)


@strawberry.type(description="A node of the graph: a context, a tool (by name) or an agent (by principal id).")
class GraphNode:
    kind: str = strawberry.field(description="context, tool or agent.")
    id: str = strawberry.field(description="Context id, tool name or principal id.")

    @strawberry.field(description="The context, when this node is one.")
    async def context(self, info: Info_) -> ContextRef | None:
        found = await ops.by_id(info.context, self.id) if self.kind == CONTEXT else None
        return None if found is None else _context(found)

    @strawberry.field(description="A label for display: a context's path, a tool's name, an agent's id.")
    async def label(self, info: Info_) -> str:
        if self.kind == CONTEXT:
            found = await ops.by_id(info.context, self.id)
            return self.id if found is None else found.path
        return self.id

    @classmethod
    def of(cls, ref: NodeRef) -> GraphNode:
        return cls(kind=ref.kind, id=ref.id)


@strawberry.type(description="A typed, directed relationship from a context.")
class Relationship:
    record: strawberry.Private[RelationshipRecord]

    @strawberry.field(description="Upper snake case, e.g. DEPENDS_ON.")
    def type(self) -> str:
        return self.record.type

    @strawberry.field(name="from")
    def source(self) -> GraphNode:
        return GraphNode.of(self.record.source)

    @strawberry.field(name="to")
    def target(self) -> GraphNode:
        return GraphNode.of(self.record.target)

    @strawberry.field
    def properties(self) -> JSON:
        return JSON(self.record.properties)

    @strawberry.field
    def weight(self) -> float:
        return self.record.weight

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.record.created_at)

    @strawberry.field
    def created_by(self) -> Agent:
        return Agent(id=self.record.created_by)


@strawberry.type(description="A node reached from a context, at its shortest distance (in hops).")
class Neighbor:
    node: GraphNode
    distance: int


@strawberry.type(description="Nodes and edges, ready for a graph visualisation (a path lists them in order).")
class Subgraph:
    nodes: list[GraphNode]
    edges: list[Relationship]

    @classmethod
    def of(cls, view: GraphView) -> Subgraph:
        return cls(nodes=[GraphNode.of(n) for n in view.nodes], edges=[Relationship(record=e) for e in view.edges])


@strawberry.type(description="A context in a lineage graph. A deleted context keeps its id and the path it had.")
class LineageNode:
    id: strawberry.ID
    recorded_path: str = strawberry.field(description="The path when the lineage was recorded.")

    @strawberry.field(description="The context now; null when it was deleted.")
    async def context(self, info: Info_) -> ContextRef | None:
        found = await ops.by_id(info.context, str(self.id))
        return None if found is None else _context(found)

    @strawberry.field(description="True when the context no longer exists.")
    async def deleted(self, info: Info_) -> bool:
        return await ops.by_id(info.context, str(self.id)) is None


@strawberry.type(description="`derived` (at `version`) was made from `source` (at `sourceVersion`).")
class LineageEdge:
    derived: strawberry.ID
    source: strawberry.ID
    version: int
    source_version: int
    execution_id: strawberry.ID | None


@strawberry.type(description="Which execution produced which version of a context.")
class ProducedBy:
    context_id: strawberry.ID
    version: int
    execution_id: strawberry.ID

    @strawberry.field
    async def execution(self, info: Info_) -> Execution | None:
        found = await executions.get(info.context, str(self.execution_id))
        return None if found is None else Execution(record=found)


@strawberry.type(description="A lineage graph: contexts, derivations between them, and the executions that produced them.")
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    produced_by: list[ProducedBy]

    @classmethod
    def of(cls, lineage: Lineage) -> LineageGraph:
        return cls(
            nodes=[LineageNode(id=strawberry.ID(i), recorded_path=p) for i, p in lineage.paths.items()],
            edges=[LineageEdge(derived=strawberry.ID(e.derived), source=strawberry.ID(e.source), version=e.version,
                               source_version=e.source_version,
                               execution_id=None if e.execution_id is None else strawberry.ID(e.execution_id))
                   for e in lineage.edges],
            produced_by=[ProducedBy(context_id=strawberry.ID(c), version=v, execution_id=strawberry.ID(x))
                         for c, v, x in lineage.produced_by],
        )


