"""GraphQL for semantic search: `search` and `similar`, mixed into the root Query."""

from __future__ import annotations

from enum import Enum

import strawberry

from contextql.resolvers import search as ops

from .types import Context, ContextInfo, ContextVersion


@strawberry.enum(description="How `search` ranks: dense (meaning), keyword (BM25-style terms) or both fused (RRF).")
class SearchMode(Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    KEYWORD = "keyword"


@strawberry.input(description="Restrict a search (always within your workspace).")
class SearchWhere:
    path_prefix: str | None = strawberry.field(default=None, description="This context and its subtree only.")
    kinds: list[str] | None = strawberry.field(default=None, description="Any of these kinds.")
    tags: list[str] | None = strawberry.field(default=None, description="Every one of these tags.")


@strawberry.type(description="One search result: the live context, how well it matched, and the best passage.")
class SearchHit:
    score: float = strawberry.field(description="Cosine similarity (DENSE), BM25 score (KEYWORD) or RRF score (HYBRID).")
    snippet: str = strawberry.field(description="The best-matching passage of the context's content.")
    context: Context = strawberry.field(description="The context as it is now in the graph.")
    version: ContextVersion | None = strawberry.field(
        default=None, description="With `includeHistory`: the past version that matched.")


def _hits(results: list[ops.SearchResult]) -> list[SearchHit]:
    return [
        SearchHit(score=r.score, snippet=r.snippet, context=Context(record=r.context),
                  version=None if r.version is None else ContextVersion(record=r.version))
        for r in results
    ]


def _where(where: SearchWhere | None) -> ops.Where | None:
    return None if where is None else ops.Where(path_prefix=where.path_prefix, kinds=where.kinds, tags=where.tags)


@strawberry.type
class SearchQuery:
    @strawberry.field(description="Contexts that answer a question in plain words, best first.")
    async def search(
        self,
        info: ContextInfo,
        query: str,
        where: SearchWhere | None = None,
        limit: int = 10,
        min_score: float | None = None,
        mode: SearchMode = SearchMode.HYBRID,
        include_history: bool = False,
    ) -> list[SearchHit]:
        return _hits(await ops.search(info.context, query, where=_where(where), limit=limit, min_score=min_score,
                                      mode=mode.value, include_history=include_history))

    @strawberry.field(description="Contexts most like the given one (more like this), itself excluded.")
    async def similar(self, info: ContextInfo, to: strawberry.ID, where: SearchWhere | None = None,
                      limit: int = 10) -> list[SearchHit]:
        return _hits(await ops.similar_to(info.context, str(to), where=_where(where), limit=limit))
