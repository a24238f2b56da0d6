"""GraphQL for semantic search over tool descriptions: `searchTools`, mixed into the root Query."""

from __future__ import annotations

import strawberry

from contextql.resolvers import tool_search as ops

from .knowledge_types import Info_, Tool
from .search import SearchMode


@strawberry.type(description="One tool search result: the tool as it is now in the graph and how well it matched.")
class ToolHit:
    score: float = strawberry.field(description="Cosine similarity (DENSE), BM25 score (KEYWORD) or RRF score (HYBRID).")
    tool: Tool = strawberry.field(description="The tool (its latest version), read from the graph for this request.")


@strawberry.type
class ToolSearchQuery:
    @strawberry.field(description="Tools you may read whose name and description answer a need in plain words, "
                                  "best first (built-in tools included; retired ones only with `includeRetired`).")
    async def search_tools(self, info: Info_, query: str, limit: int = 10, mode: SearchMode = SearchMode.HYBRID,
                           include_retired: bool = False) -> list[ToolHit]:
        found = await ops.search_tools(info.context, query, limit=limit, mode=mode.value, include_retired=include_retired)
        return [ToolHit(score=r.score, tool=Tool(tool=r.tool, spec=r.spec)) for r in found]
