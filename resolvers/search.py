"""Semantic search: query the index, then check every hit against the graph (the truth).

A hit is returned only if its context still exists and the index saw its current version
(for history hits: that the version still exists). The live context comes from the
request's DataLoader, so a page of hits costs one graph read however many hits it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contextql.graph.embeddings.chunks import passages
from contextql.graph.errors import BadUserInputError, NotFoundError, StoreUnavailableError
from contextql.graph.index import IndexHit, SearchFilter
from contextql.graph.index.qdrant import IndexUnavailableError
from contextql.graph.records import ContextRecord, VersionRecord

from . import paths
from .request import RequestContext
from .validation import check_kind, normalize_tags

MODES = ("hybrid", "dense", "keyword")
MAX_QUERY_CHARS = 2_000
MAX_LIMIT = 100


@dataclass
class SearchResult:
    score: float
    snippet: str
    context: ContextRecord
    version: VersionRecord | None = None  # set for history hits


@dataclass
class Where:
    path_prefix: str | None = None
    kinds: Sequence[str] | None = None
    tags: Sequence[str] | None = None


def _filter(where: Where | None, exclude: Sequence[str] = ()) -> SearchFilter:
    if where is None:
        return SearchFilter(exclude_ids=tuple(exclude))
    for kind in where.kinds or ():
        check_kind(kind)
    return SearchFilter(
        path_prefix=paths.normalize(where.path_prefix) if where.path_prefix else None,
        kinds=tuple(where.kinds or ()), tags=tuple(normalize_tags(list(where.tags or ()))), exclude_ids=tuple(exclude),
    )


def _index(ctx: RequestContext):
    if ctx.search is None:
        raise StoreUnavailableError("Search is not enabled on this server (CONTEXTQL_SEARCH=false).", retry_after=None)
    return ctx.search


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInputError(f"`limit` must be between 1 and {MAX_LIMIT}.", limit=MAX_LIMIT)
    return limit


async def search(ctx: RequestContext, query: str, *, where: Where | None = None, limit: int = 10,
                 min_score: float | None = None, mode: str = "hybrid", include_history: bool = False) -> list[SearchResult]:
    if not query or not query.strip():
        raise BadUserInputError("`query` must not be empty: ask in plain words, e.g. \"how do we rotate API keys?\"")
    if len(query) > MAX_QUERY_CHARS:
        raise BadUserInputError(f"`query` may be at most {MAX_QUERY_CHARS} characters.", limit=MAX_QUERY_CHARS)
    if mode not in MODES:
        raise BadUserInputError(f"`mode` must be one of {', '.join(m.upper() for m in MODES)}.")
    flt = _filter(where)
    index = _index(ctx)
    try:
        hits = await index.search(ctx.workspace, query.strip(), mode, flt, _limit(limit), history=include_history)
    except IndexUnavailableError:
        raise StoreUnavailableError("The search index is unavailable right now; try again shortly.") from None
    if min_score is not None:
        hits = [h for h in hits if h.score >= min_score]
    return await _checked(ctx, hits, flt, limit, include_history)


async def similar(ctx: RequestContext, record: ContextRecord, *, where: Where | None = None,
                  limit: int = 10) -> list[SearchResult]:
    """Contexts most like `record` (by meaning), itself excluded."""
    flt = _filter(where, exclude=[record.id])
    index = _index(ctx)
    text = passages(record.title, record.path, record.content)[0]
    try:
        vector = await index.embeddings.embed_query(text)
        hits = await index.similar(ctx.workspace, vector, flt, _limit(limit))
    except IndexUnavailableError:
        raise StoreUnavailableError("The search index is unavailable right now; try again shortly.") from None
    return await _checked(ctx, hits, flt, limit, False)


async def similar_to(ctx: RequestContext, context_id: str, **kwargs) -> list[SearchResult]:
    record = await ctx.loaders.by_id.load(context_id) if _is_uuid(context_id) else None
    if record is None:
        raise NotFoundError(f"No context {context_id!r} in workspace {ctx.workspace!r}.")
    return await similar(ctx, record, **kwargs)


async def _checked(ctx: RequestContext, hits: list[IndexHit], flt: SearchFilter, limit: int,
                   history: bool) -> list[SearchResult]:
    """Drop what the graph no longer backs: deleted contexts, stale entries, moved-out paths.

    The index over-fetches (chunks of one context, stale hits), but most hits are live: the graph
    is read for the best `limit` hits first, and for the next ones only while the page is short.
    A 10-hit search read 40 contexts before (every hit the index returned)."""
    out: list[SearchResult] = []
    start = 0
    while start < len(hits) and len(out) < limit:
        window = hits[start:start + limit]
        start += len(window)
        out += await _checked_window(ctx, window, flt, history)
    return out[:limit]


async def _checked_window(ctx: RequestContext, hits: list[IndexHit], flt: SearchFilter,
                          history: bool) -> list[SearchResult]:
    live = await ctx.loaders.by_id.load_many(list(dict.fromkeys(h.context_id for h in hits)))
    records = {r.id: r for r in live if r is not None}
    versions: dict[tuple[str, int], VersionRecord] = {}
    if history and records:
        found = await ctx.store.versions_of(ctx.workspace, list(records))
        versions = {(v.context_id, v.number): v for vs in found.values() for v in vs}
    out: list[SearchResult] = []
    for hit in hits:
        record = records.get(hit.context_id)
        if record is None or not _still_matches(record, flt):
            continue
        if history:
            version = versions.get((hit.context_id, hit.number or 0))
            if version is None:
                continue
            out.append(SearchResult(hit.score, hit.snippet, record, version))
        elif hit.version == record.version and hit.path == record.path:
            out.append(SearchResult(hit.score, hit.snippet, record))
    return out


def _still_matches(record: ContextRecord, flt: SearchFilter) -> bool:
    if flt.path_prefix and not paths.is_within(record.path, flt.path_prefix) and record.path != flt.path_prefix:
        return False
    if flt.kinds and record.kind not in flt.kinds:
        return False
    return all(tag in record.tags for tag in flt.tags)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
