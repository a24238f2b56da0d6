"""Root Query fields of the knowledge graph (mixed into `Query`)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from contextql.graph.knowledge.records import ExecutionFilter, ToolFilter
from contextql.resolvers import builtin_tools, executions, relationships, tools
from contextql.resolvers.clock import from_datetime

from .connections import Connection, connection
from .enums import ExecutionStatus
from .knowledge_types import Execution, Info_, Subgraph, Tool


@strawberry.input(description="Filter over tools (their latest version); fields combine with AND.")
class ToolWhere:
    name: str | None = None
    name_starts_with: str | None = None
    tag: str | None = None
    kind: str | None = None
    deprecated: bool | None = None
    retired: bool | None = strawberry.field(default=False, description="false (default), true, or null for both.")


@strawberry.input(description="Filter over executions; fields combine with AND.")
class ExecutionWhere:
    tool: str | None = None
    status: ExecutionStatus | None = None
    principal: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None


@strawberry.type
class KnowledgeQuery:
    @strawberry.field(description="A tool by name: the given version, or the latest. Built-in tools are named builtin.*.")
    async def tool(self, info: Info_, name: str, version: str | None = None) -> Tool | None:
        found = await tools.get(info.context, name, version)
        return None if found is None else Tool(tool=found[0], spec=found[1])

    @strawberry.field(description="Registered tools (latest version each) matching `where`, by name, paged.")
    async def tools(
        self, info: Info_, where: ToolWhere | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Tool]:
        w = where or ToolWhere()
        condition = ToolFilter(name=w.name, name_prefix=w.name_starts_with, tag=w.tag, kind=w.kind,
                               deprecated=w.deprecated, retired=w.retired)
        page = await tools.find(info.context, condition, first, after)
        return connection(page, lambda row: Tool(tool=row[0], spec=row[1]), lambda: tools.count(info.context, condition))

    @strawberry.field(description="The tools shipped with ContextQL.")
    def builtin_tools(self, info: Info_) -> list[Tool]:
        return [Tool(tool=t, spec=v) for t, v in builtin_tools.all_tools(info.context.workspace)]

    @strawberry.field(description="One execution by id.")
    async def execution(self, info: Info_, id: strawberry.ID) -> Execution | None:
        found = await executions.get(info.context, str(id))
        return None if found is None else Execution(record=found)

    @strawberry.field(description="Execution history, newest first.")
    async def executions(
        self, info: Info_, where: ExecutionWhere | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Execution]:
        w = where or ExecutionWhere()
        condition = ExecutionFilter(
            tool=w.tool, status=None if w.status is None else w.status.value, principal=w.principal,
            started_after=None if w.started_after is None else from_datetime(w.started_after),
            started_before=None if w.started_before is None else from_datetime(w.started_before),
        )
        page = await executions.find(info.context, condition, first, after)
        return connection(page, lambda r: Execution(record=r), lambda: executions.count(info.context, condition))

    @strawberry.field(description="The context at `path` (the root), nodes within `depth` hops (1-4, at most `first`) and the edges among them.")
    async def subgraph(
        self, info: Info_, path: str, depth: int = 2,
        types: list[str] | None = None, first: int = 100,
    ) -> Subgraph:
        return Subgraph.of(await relationships.subgraph(info.context, path, depth, types, first))
