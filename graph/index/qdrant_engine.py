"""`QdrantClientEngine`: the index engine over qdrant-client (a Qdrant server or cluster by URL).

qdrant-client's local mode also fits (tests use it in place of a server, which cannot be
installed here); it has no payload indexes (it scans), so they are made only for a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from .engine import DENSE, FILTER_FIELDS, HIT_FIELDS, KEYWORDS, AnyOf, AtLeast, Point, Scored, Where


class QdrantClientEngine:
    def __init__(self, client: Any, *, server: bool = True) -> None:
        self.client = client
        self.server = server

    def exists(self, name: str) -> bool:
        return bool(self.client.collection_exists(name))

    def layout(self, name: str) -> tuple[int, str | None]:
        params = self.client.get_collection(name).config.params
        return int(params.vectors[DENSE].size), next(iter(params.sparse_vectors or {}), None)

    def create(self, name: str, dim: int) -> None:
        self.client.create_collection(
            name,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self.server:
            for key, schema in FILTER_FIELDS.items():
                self.client.create_payload_index(name, key, field_schema=schema)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if points:
            self.client.upsert(name, points=[models.PointStruct(id=p.id, payload=p.payload, vector={
                DENSE: p.dense, KEYWORDS: models.SparseVector(indices=p.sparse[0], values=p.sparse[1]),
            }) for p in points], wait=True)

    def delete(self, name: str, where: Where) -> None:
        self.client.delete(name, points_selector=models.FilterSelector(filter=_filter(where)), wait=True)

    def query(self, name: str, where: Where, limit: int, *, dense: list[float] | None = None,
              sparse: tuple[list[int], list[float]] | None = None, fields: Sequence[str] = HIT_FIELDS) -> list[Scored]:
        flt = _filter(where)
        keywords = models.SparseVector(indices=sparse[0], values=sparse[1]) if sparse else None
        kwargs: dict[str, Any]
        if dense is not None and keywords is not None:
            kwargs = {"prefetch": [
                models.Prefetch(query=dense, using=DENSE, filter=flt, limit=limit),
                models.Prefetch(query=keywords, using=KEYWORDS, filter=flt, limit=limit),
            ], "query": models.FusionQuery(fusion=models.Fusion.RRF)}  # a server before 1.16 takes no k
        elif dense is not None:
            kwargs = {"query": dense, "using": DENSE}
        elif keywords is not None:
            kwargs = {"query": keywords, "using": KEYWORDS}
        else:
            raise ValueError("a query needs a dense or a sparse vector")
        result = self.client.query_points(name, query_filter=flt, limit=limit, with_payload=list(fields), **kwargs)
        return [Scored(float(p.score), p.payload or {}) for p in result.points]

    def scroll(self, name: str, where: Where, fields: Sequence[str], offset: Any, limit: int
               ) -> tuple[list[dict[str, Any]], Any]:
        points, after = self.client.scroll(name, scroll_filter=_filter(where), limit=limit, offset=offset,
                                           with_payload=list(fields), with_vectors=False)
        return [p.payload or {} for p in points], after

    def count(self, name: str, where: Where) -> int:
        return int(self.client.count(name, count_filter=_filter(where), exact=True).count)

    def close(self) -> None:
        self.client.close()


def _condition(c: AnyOf | AtLeast) -> models.FieldCondition:
    if isinstance(c, AtLeast):
        return models.FieldCondition(key=c.key, range=models.Range(gte=c.value))
    if len(c.values) == 1:
        return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.values[0]))
    return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.values)))


def _filter(where: Where) -> models.Filter:
    return models.Filter(must=[_condition(c) for c in where.must] or None,
                         must_not=[_condition(c) for c in where.must_not] or None)
