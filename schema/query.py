"""Root Query."""

from __future__ import annotations

import strawberry

from contextql.graph.errors import BadUserInputError
from contextql.resolvers import context_types, contexts as ops

from .connections import Connection, connection
from .filters import to_filter, to_order
from .inputs import ContextOrderBy, ContextWhere
from .lookahead import context_read, list_read, remembered
from .knowledge_query import KnowledgeQuery
from .search import SearchQuery
from .tool_search import ToolSearchQuery
from .types import Context, ContextInfo, ContextType, ContextVersion, Node


@strawberry.type
class Query(SearchQuery, ToolSearchQuery, KnowledgeQuery):
    @strawberry.field(description="One context by path (or by id); null when there is none.")
    async def context(self, info: ContextInfo, path: str | None = None, id: strawberry.ID | None = None) -> Context | None:
        if path is not None and id is None:
            wanted = remembered(info, context_read)
            if wanted is not None:
                found = await ops.by_path_with_children(info.context, path, wanted)
            else:
                found = await ops.by_path(info.context, path)
        elif id is not None and path is None:
            found = await ops.by_id(info.context, id)
        else:
            raise BadUserInputError("Name the context by exactly one of `path` or `id`.")
        return None if found is None else Context(record=found)

    @strawberry.field(description="Any object by its id (Relay): a context's UUID, or a version's `<uuid>:<number>`.")
    async def node(self, info: ContextInfo, id: strawberry.ID) -> Node | None:
        context_id, _, number = str(id).partition(":")
        record = await ops.by_id(info.context, context_id)
        if record is None:
            return None
        if not number:
            return Context(record=record)
        if not number.isdigit():
            return None
        found = await ops.find_version(info.context, record.id, int(number))
        return None if found is None else ContextVersion(record=found)

    @strawberry.field(description="Contexts matching `where`, ordered by `orderBy` (then path), paged.")
    async def contexts(
        self,
        info: ContextInfo,
        where: ContextWhere | None = None,
        order_by: list[ContextOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Context]:
        condition = to_filter(where)
        counted, fields = remembered(info, list_read)
        if counted:
            page, total = await ops.find_counted(info.context, condition, to_order(order_by), first, after, fields)
            return connection(page, lambda r: Context(record=r), lambda: total)
        page = await ops.find(info.context, condition, to_order(order_by), first, after)
        return connection(page, lambda r: Context(record=r), lambda: ops.count(info.context, condition))

    @strawberry.field(description="A context type by name.")
    async def context_type(self, info: ContextInfo, name: str) -> ContextType | None:
        found = await context_types.get(info.context, name)
        return None if found is None else ContextType(record=found)

    @strawberry.field(description="All context types of the workspace, by name.")
    async def context_types(self, info: ContextInfo) -> list[ContextType]:
        return [ContextType(record=r) for r in await context_types.list_all(info.context)]

