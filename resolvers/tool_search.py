"""Semantic search over tool descriptions: rank the workspace's readable tools by meaning and terms.

Tools are few, so there is no index to keep in step: every call reads the workspace's tools
(latest version each) from the graph, keeps those the principal may read, and ranks them in
Python. The graph read is the truth, so a retired tool (excluded unless asked for) or one whose
grants changed is never returned as current. Only the vectors are cached, keyed by the embedder
and a hash of the embedded text (name, description and tags of one version): a new version or
description is embedded afresh, an unchanged one never again.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass

from contextql.graph.embeddings.sparse import document_vector, index_of, tokens
from contextql.graph.errors import BadUserInputError
from contextql.graph.knowledge.records import ToolFilter, ToolRecord, ToolVersionRecord
from contextql.graph.records import Page

from . import builtin_tools, tool_permissions
from .request import RequestContext
from .search import MAX_QUERY_CHARS, MODES, _index, _limit

RRF_K = 60  # reciprocal rank fusion constant (score = sum of 1 / (RRF_K + rank))
FETCH = 500  # tools read from the graph per round trip
MAX_TOOLS = 10_000  # a safety cap on what one search ranks
CACHE_SIZE = 20_000

_vectors: OrderedDict[tuple[str, str], list[float]] = OrderedDict()


@dataclass
class ToolSearchResult:
    score: float
    tool: ToolRecord
    spec: ToolVersionRecord


def tool_text(spec: ToolVersionRecord) -> str:
    """What is embedded and keyword-matched for a tool (its latest version)."""
    words = spec.name.replace(".", " ").replace("_", " ").replace("-", " ")
    tags = " ".join(spec.tags)
    return "\n".join(part for part in (spec.name, words, spec.description, tags) if part)


async def _candidates(ctx: RequestContext, include_retired: bool) -> list[tuple[ToolRecord, ToolVersionRecord]]:
    where = ToolFilter(retired=None if include_retired else False)
    rows: list[tuple[ToolRecord, ToolVersionRecord]] = []
    after = None
    while len(rows) < MAX_TOOLS:
        page = await ctx.store.find_tools(ctx.workspace, where, Page(limit=FETCH, after=after))
        rows.extend(page)
        if len(page) < FETCH:
            break
        after = (page[-1][0].name,)
    rows.extend(builtin_tools.all_tools(ctx.workspace))
    return [row for row in rows if tool_permissions.allowed(ctx.principal, row[0].permissions, "read", ctx.workspace)]


async def _embed(embeddings, texts: list[str]) -> list[list[float]]:
    keys = [(embeddings.name, hashlib.sha256(text.encode()).hexdigest()) for text in texts]
    missing = list(dict.fromkeys((key, text) for key, text in zip(keys, texts) if key not in _vectors))
    if missing:
        for (key, _), vector in zip(missing, await embeddings.embed_documents([t for _, t in missing])):
            _vectors[key] = vector
    out = []
    for key in keys:
        _vectors.move_to_end(key)
        out.append(_vectors[key])
    while len(_vectors) > CACHE_SIZE:
        _vectors.popitem(last=False)
    return out


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _keyword_scores(query: str, texts: list[str]) -> list[float]:
    """BM25 over the candidates: the index's term weights, IDF as Qdrant computes it."""
    wanted = {index_of(t) for t in tokens(query)}
    if not wanted:
        return [0.0] * len(texts)
    docs = [dict(zip(*document_vector(text))) for text in texts]
    df = Counter(i for doc in docs for i in doc if i in wanted)
    n = len(docs)
    idf = {i: math.log(1 + (n - df[i] + 0.5) / (df[i] + 0.5)) for i in wanted}
    return [sum(weight * idf[i] for i, weight in doc.items() if i in wanted) for doc in docs]


def _ranks(scores: list[float], positive_only: bool) -> dict[int, int]:
    order = sorted((i for i, s in enumerate(scores) if s > 0 or not positive_only), key=lambda i: -scores[i])
    return {i: rank for rank, i in enumerate(order, start=1)}


async def search_tools(ctx: RequestContext, query: str, *, limit: int = 10, mode: str = "hybrid",
                       include_retired: bool = False) -> list[ToolSearchResult]:
    if not query or not query.strip():
        raise BadUserInputError("`query` must not be empty: describe the tool you need, e.g. \"translate text\".")
    if len(query) > MAX_QUERY_CHARS:
        raise BadUserInputError(f"`query` may be at most {MAX_QUERY_CHARS} characters.", limit=MAX_QUERY_CHARS)
    if mode not in MODES:
        raise BadUserInputError(f"`mode` must be one of {', '.join(m.upper() for m in MODES)}.")
    _limit(limit)
    embeddings = _index(ctx).embeddings  # SERVICE_UNAVAILABLE when search is off
    query = query.strip()
    rows = await _candidates(ctx, include_retired)
    if not rows:
        return []
    texts = [tool_text(spec) for _, spec in rows]
    keyword = _keyword_scores(query, texts) if mode != "dense" else []
    dense: list[float] = []
    if mode != "keyword":
        qvec = await embeddings.embed_query(query)
        dense = [_cosine(qvec, v) for v in await _embed(embeddings, texts)]
    if mode == "keyword":
        scores = keyword
        keep = [i for i, s in enumerate(scores) if s > 0]
    elif mode == "dense" or not tokens(query):  # nothing to match on: meaning only, like `search`
        scores = dense
        keep = list(range(len(rows)))
    else:
        fused = [0.0] * len(rows)
        for ranks in (_ranks(dense, False), _ranks(keyword, True)):
            for i, rank in ranks.items():
                fused[i] += 1.0 / (RRF_K + rank)
        scores = fused
        keep = list(range(len(rows)))
    keep.sort(key=lambda i: (-scores[i], rows[i][1].name))
    return [ToolSearchResult(scores[i], *rows[i]) for i in keep[:limit]]
