"""`VectorIndex`: contexts (and their past versions) as Qdrant points.

Two collections: `<name>` holds the current state of every context, `<name>_history` one
entry per version. A context becomes one point per chunk of its text; the point id is a
UUID derived from (context id, chunk) — for history (context id, version, chunk) — so
writing the same state twice changes nothing (idempotent). Each point has a dense vector
(`dense`, cosine) and a BM25-style sparse vector (`keywords`, IDF applied by Qdrant), and
a payload: workspace, context_id, version, path, ancestors (for subtree filters), kind, tags,
chunk, title and the chunk's text (the snippet).

The client is the synchronous `QdrantClient` (local mode under the data directory, or a
server by URL); every call runs on the index's own thread so the event loop never waits
on it, and local mode (not thread-safe) only ever sees one thread.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models

from ..embeddings import EmbeddingService
from ..embeddings.chunks import passages, split
from ..embeddings.sparse import document_vector, query_vector
from ..records import ContextRecord, VersionRecord
from ..telemetry import span

DENSE = "dense"
KEYWORDS = "keywords"
_NS = uuid.UUID("5b0c2f1e-8d7a-4f0e-9a51-3c2b7e4d9f10")
FILTER_FIELDS = {"workspace": "keyword", "context_id": "keyword", "ancestors": "keyword", "kind": "keyword",
                 "tags": "keyword", "chunk": "integer", "version": "integer"}


@dataclass(frozen=True)
class SearchFilter:
    """Restrictions of a search; the workspace is always applied."""

    path_prefix: str | None = None  # a normalised path: that context and its subtree
    kinds: Sequence[str] = ()
    tags: Sequence[str] = ()  # every tag must be present
    exclude_ids: Sequence[str] = ()


@dataclass
class IndexHit:
    context_id: str
    version: int
    path: str
    score: float
    snippet: str
    number: int | None = None  # the version, for history hits
    payload: dict[str, Any] = field(default_factory=dict, repr=False)


class IndexUnavailableError(Exception):
    """The index could not be reached or refused the call (the caller decides what that means)."""


def ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def point_id(context_id: str, chunk: int, number: int | None = None) -> str:
    key = f"{context_id}:{chunk}" if number is None else f"{context_id}@{number}:{chunk}"
    return str(uuid.uuid5(_NS, key))


class VectorIndex:
    """The search index over a Qdrant client.

    With `connect` (and no `client`), the client is made on first use, and made again on the
    next call after it could not be (an unwritable local directory, a server that is down), so a
    server starts with its index unusable and search recovers by itself.
    """

    def __init__(self, client: Any, embeddings: EmbeddingService, *, collection: str = "contextql",
                 server: bool = False, connect: Callable[[], Any] | None = None) -> None:
        if client is None and connect is None:
            raise ValueError("give a Qdrant client or a way to make one")
        self._connect = connect
        self.client = client
        self.embeddings = embeddings
        self.current = collection
        self.history = collection + "_history"
        self.server = server
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="qdrant")
        self.ready = False  # collections checked or created

    def _client(self) -> Any:
        if self.client is None:
            assert self._connect is not None
            self.client = self._connect()
        return self.client

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            return getattr(self._client(), method)(*args, **kwargs)

        try:
            with span(f"qdrant {method}", **{"db.system": "qdrant", "db.system.name": "qdrant",
                                             "db.operation.name": method}):
                return await asyncio.get_running_loop().run_in_executor(self._thread, run)
        except ValueError:
            raise  # a wrong argument is a bug, not an outage
        except Exception as exc:
            raise IndexUnavailableError(f"the search index failed: {type(exc).__name__}") from exc

    async def _ready(self) -> None:
        """The collections exist (made now if the index was unusable when the server started)."""
        if not self.ready:
            await self.ensure()

    async def ping(self) -> None:
        """Raise unless the index answers (readiness)."""
        if not await self._call("collection_exists", self.current):
            raise IndexUnavailableError(f"the search collection {self.current} is missing")

    # -- collections ------------------------------------------------------------

    async def ensure(self, *, recreate: bool = False) -> None:
        """Create the collections (vector size from the model); recreate if asked or the size changed."""
        for name in (self.current, self.history):
            exists = await self._call("collection_exists", name)
            if exists and not recreate:
                info = await self._call("get_collection", name)
                size = info.config.params.vectors[DENSE].size
                if size == self.embeddings.dim:
                    continue
                raise IndexUnavailableError(
                    f"collection {name} holds {size}-dimensional vectors but the model makes "
                    f"{self.embeddings.dim}: run `contextql reindex --recreate`"
                )
            if exists:
                await self._call("delete_collection", name)
            await self._call(
                "create_collection", name,
                vectors_config={DENSE: models.VectorParams(size=self.embeddings.dim, distance=models.Distance.COSINE)},
                sparse_vectors_config={KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
            if self.server:  # local mode has no payload indexes (it scans)
                for key, schema in FILTER_FIELDS.items():
                    await self._call("create_payload_index", name, key, field_schema=schema)
        self.ready = True

    async def close(self) -> None:
        try:
            if self.client is not None:
                await self._call("close")
        finally:
            self._thread.shutdown(wait=False)

    # -- writes -----------------------------------------------------------------

    async def refresh(self, records: Sequence[ContextRecord]) -> None:
        """Make the current entries of `records` match them exactly (idempotent)."""
        if not records:
            return
        items = [(rec, i, chunk, text) for rec in records
                 for i, (chunk, text) in enumerate(zip(split(rec.content), passages(rec.title, rec.path, rec.content)))]
        vectors = await self.embeddings.embed_documents([text for *_, text in items])
        points = [
            self._point(point_id(rec.id, i), vector, text, self._payload(rec, rec.version, i, chunk))
            for (rec, i, chunk, text), vector in zip(items, vectors)
        ]
        await self._call("upsert", self.current, points=points, wait=True)
        counts: dict[str, int] = {}
        for rec, i, *_ in items:
            counts[rec.id] = max(counts.get(rec.id, 0), i + 1)
        for rec in records:  # drop chunks the shorter new text no longer has
            await self._call("delete", self.current, points_selector=models.FilterSelector(filter=models.Filter(must=[
                _match("context_id", rec.id), models.FieldCondition(key="chunk", range=models.Range(gte=counts[rec.id]))
            ])), wait=True)

    async def add_versions(self, versions: Sequence[VersionRecord]) -> None:
        """Index past versions (searched with `includeHistory`); idempotent per (context, version)."""
        if not versions:
            return
        items = [(v, i, chunk, text) for v in versions
                 for i, (chunk, text) in enumerate(zip(split(v.content), passages(v.title, v.path, v.content)))]
        vectors = await self.embeddings.embed_documents([text for *_, text in items])
        points = [
            self._point(point_id(v.context_id, i, v.number), vector, text,
                        {**self._payload(v, v.number, i, chunk), "number": v.number, "operation": v.operation})
            for (v, i, chunk, text), vector in zip(items, vectors)
        ]
        await self._call("upsert", self.history, points=points, wait=True)

    async def remove(self, workspace: str, context_ids: Sequence[str]) -> None:
        """Remove every entry (current and history) of these contexts."""
        if not context_ids:
            return
        selector = models.FilterSelector(filter=models.Filter(must=[
            _match("workspace", workspace),
            models.FieldCondition(key="context_id", match=models.MatchAny(any=list(context_ids))),
        ]))
        for name in (self.current, self.history):
            await self._call("delete", name, points_selector=selector, wait=True)

    @staticmethod
    def _payload(rec: ContextRecord | VersionRecord, version: int, chunk: int, text: str) -> dict[str, Any]:
        context_id = rec.id if isinstance(rec, ContextRecord) else rec.context_id
        return {
            "workspace": rec.workspace, "context_id": context_id, "version": int(version), "path": rec.path,
            "ancestors": ancestors(rec.path), "kind": rec.kind, "tags": list(rec.tags), "chunk": chunk,
            "title": rec.title, "text": text,
        }

    @staticmethod
    def _point(pid: str, dense: list[float], text: str, payload: dict[str, Any]) -> models.PointStruct:
        indices, values = document_vector(text)
        return models.PointStruct(id=pid, payload=payload, vector={
            DENSE: dense, KEYWORDS: models.SparseVector(indices=indices, values=values),
        })

    # -- reads ------------------------------------------------------------------

    async def heads(self, workspace: str) -> dict[str, tuple[int, str]]:
        """context id -> (indexed version, indexed path), from the first chunk of every entry."""
        found: dict[str, tuple[int, str]] = {}
        offset = None
        flt = models.Filter(must=[_match("workspace", workspace), models.FieldCondition(key="chunk", match=models.MatchValue(value=0))])
        while True:
            points, offset = await self._call(
                "scroll", self.current, scroll_filter=flt, limit=1_000, offset=offset,
                with_payload=["context_id", "version", "path"], with_vectors=False,
            )
            for p in points:
                found[p.payload["context_id"]] = (int(p.payload["version"]), p.payload["path"])
            if offset is None:
                return found

    async def history_heads(self, workspace: str) -> dict[str, set[int]]:
        """context id -> the version numbers the history collection holds (their first chunk), for `verify`."""
        found: dict[str, set[int]] = {}
        offset = None
        flt = models.Filter(must=[_match("workspace", workspace), models.FieldCondition(key="chunk", match=models.MatchValue(value=0))])
        while True:
            points, offset = await self._call(
                "scroll", self.history, scroll_filter=flt, limit=1_000, offset=offset,
                with_payload=["context_id", "number"], with_vectors=False,
            )
            for p in points:
                found.setdefault(p.payload["context_id"], set()).add(int(p.payload["number"]))
            if offset is None:
                return found

    async def search(self, workspace: str, text: str, mode: str, where: SearchFilter, limit: int,
                     *, history: bool = False) -> list[IndexHit]:
        """Best chunk per context (per version with `history`), best first; `mode` is hybrid|dense|keyword."""
        await self._ready()
        flt = _filter(workspace, where)
        fetch = max(limit * 4, 20)  # chunks of one context and stale hits are dropped later
        collection = self.history if history else self.current
        sparse = query_vector(text)
        if mode == "keyword" and not sparse[0]:  # nothing to match on
            return []
        if mode == "keyword":
            kwargs = {"query": models.SparseVector(indices=sparse[0], values=sparse[1]), "using": KEYWORDS}
        else:
            dense = await self.embeddings.embed_query(text)
            if mode == "dense" or not sparse[0]:
                kwargs = {"query": dense, "using": DENSE}
            else:
                kwargs = {"prefetch": [
                    models.Prefetch(query=dense, using=DENSE, filter=flt, limit=fetch),
                    models.Prefetch(query=models.SparseVector(indices=sparse[0], values=sparse[1]), using=KEYWORDS,
                                    filter=flt, limit=fetch),
                ], "query": models.FusionQuery(fusion=models.Fusion.RRF)}
        result = await self._call("query_points", collection, query_filter=flt, limit=fetch, with_payload=True,
                                  **kwargs)
        return _best_per_key(result.points, history)

    async def similar(self, workspace: str, vector: list[float], where: SearchFilter, limit: int) -> list[IndexHit]:
        await self._ready()
        result = await self._call("query_points", self.current, query=vector, using=DENSE,
                                  query_filter=_filter(workspace, where), limit=max(limit * 4, 20), with_payload=True)
        return _best_per_key(result.points, False)


def _match(key: str, value: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _filter(workspace: str, where: SearchFilter) -> models.Filter:
    must = [_match("workspace", workspace)]
    if where.path_prefix:
        must.append(_match("ancestors", where.path_prefix))
    if where.kinds:
        must.append(models.FieldCondition(key="kind", match=models.MatchAny(any=list(where.kinds))))
    must.extend(_match("tags", tag) for tag in where.tags)
    must_not = []
    if where.exclude_ids:
        must_not.append(models.FieldCondition(key="context_id", match=models.MatchAny(any=list(where.exclude_ids))))
    return models.Filter(must=must, must_not=must_not or None)


def _best_per_key(points: Sequence[Any], history: bool) -> list[IndexHit]:
    hits: dict[Any, IndexHit] = {}
    for p in points:  # best first: keep a context's (or version's) first chunk seen
        payload = p.payload or {}
        key = (payload["context_id"], payload.get("number")) if history else payload["context_id"]
        if key not in hits:
            hits[key] = IndexHit(
                context_id=payload["context_id"], version=int(payload["version"]), path=payload["path"],
                score=float(p.score), snippet=payload.get("text", ""), number=payload.get("number"), payload=payload,
            )
    return list(hits.values())
