"""The index engine contract: what `VectorIndex` needs from a vector database, and nothing more.

Two engines satisfy it:
- `QdrantClientEngine` (`qdrant_engine.py`): qdrant-client against a Qdrant server or cluster by URL
  (in tests its local mode stands in for the server).
- `EdgeEngine` (`edge.py`): Qdrant Edge, the Qdrant engine in-process, under the data directory.

The engine knows collections, points, filters and queries; `VectorIndex` knows contexts,
versions, chunks and payloads. Every call is synchronous and runs on the index's one thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contextql.graph.embeddings.sparse import TOKENS_VERSION

DENSE = "dense"
# The sparse vector's name carries the tokenizer's version: a collection whose keyword vectors another
# tokenizer made is found by its name and rebuilt, instead of silently missing the queries' tokens.
KEYWORDS = f"keywords_v{TOKENS_VERSION}"
# RRF's k for Edge: 2, the constant of qdrant-client's local mode (which mirrors the server's fusion; the
# Qdrant 1.12 of docker-compose.yml takes no k), so both deployments fuse alike. Tuning it is search quality's.
RRF_K = 2
# Payload fields that filters use, and the kind of index each gets.
FILTER_FIELDS = {"workspace": "keyword", "context_id": "keyword", "ancestors": "keyword", "kind": "keyword",
                 "tags": "keyword", "chunk": "integer", "version": "integer"}


# What a search hit needs of a point's payload: reading all of it (ancestors, tags, title, ...) cost Edge
# about 1 ms more per 40 hits, measured on 50,000 points.
HIT_FIELDS: tuple[str, ...] = ("context_id", "version", "path", "text", "number")

@dataclass(frozen=True)
class AnyOf:
    """The payload field `key` holds one of `values` (for a list field: contains one of them)."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class AtLeast:
    key: str
    value: int


Condition = AnyOf | AtLeast


@dataclass(frozen=True)
class Where:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Point:
    id: str
    dense: list[float]
    sparse: tuple[list[int], list[float]]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Scored:
    score: float
    payload: dict[str, Any] = field(repr=False)


class IndexInUseError(RuntimeError):
    """Another process holds the embedded index (`str()` says which folder and what to do)."""


class IndexProcessError(RuntimeError):
    """The child process that serves the embedded index ended during the call (`edge_process.py`)."""


class IndexEngine(Protocol):
    def exists(self, name: str) -> bool: ...

    def layout(self, name: str) -> tuple[int, str | None]:
        """The dense vector size of an existing collection and the name of its sparse vector."""
        ...

    def create(self, name: str, dim: int) -> None:
        """A collection with `DENSE` (cosine, `dim`) and `KEYWORDS` (sparse, IDF) vectors and the payload indexes."""
        ...

    def drop(self, name: str) -> None: ...

    def upsert(self, name: str, points: Sequence[Point]) -> None: ...

    def delete(self, name: str, where: Where) -> None: ...

    def query(self, name: str, where: Where, limit: int, *, dense: list[float] | None = None,
              sparse: tuple[list[int], list[float]] | None = None, fields: Sequence[str] = HIT_FIELDS) -> list[Scored]:
        """Best first, with the payload `fields` of each hit. With both vectors: each one prefetches `limit`
        candidates, fused by RRF in the engine."""
        ...

    def scroll(self, name: str, where: Where, fields: Sequence[str], offset: Any, limit: int
               ) -> tuple[list[dict[str, Any]], Any]:
        """A page of payloads (only `fields`) and the offset of the next page (None at the end)."""
        ...

    def count(self, name: str, where: Where) -> int: ...

    def close(self) -> None: ...
