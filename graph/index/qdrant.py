"""`VectorIndex`: contexts (and their past versions) as points of an index engine (`engine.py`).

Two collections: `<name>` holds the current state of every context, `<name>_history` one
entry per version. A context becomes one point per chunk of its text; the point id is a
UUID derived from (context id, chunk) — for history (context id, version, chunk) — so
writing the same state twice changes nothing (idempotent). Each point has a dense vector
(`dense`, cosine) and a BM25-style sparse vector (`keywords`, IDF applied by the engine), and
a payload: workspace, context_id, version, path, ancestors (for subtree filters), kind, tags,
chunk, title and the chunk's text (the snippet).

The engine is synchronous (Qdrant Edge in-process, or qdrant-client against a server); every
call runs on the index's own thread so the event loop never waits on it, and an engine that
is not thread-safe only ever sees one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..embeddings import EmbeddingService
from ..embeddings.chunks import passages, split
from ..embeddings.sparse import document_vector, query_vector
from ..records import ContextRecord, VersionRecord
from ..telemetry import span
from .engine import KEYWORDS, AnyOf, AtLeast, IndexEngine, IndexInUseError, IndexProcessError, Point, Scored, Where

logger = logging.getLogger("contextql.index")
_NS = uuid.UUID("5b0c2f1e-8d7a-4f0e-9a51-3c2b7e4d9f10")


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


class IndexOutdatedError(IndexUnavailableError):
    """A collection was made for another model or tokenizer: it must be rebuilt (`reindex --recreate`)."""


def ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def point_id(context_id: str, chunk: int, number: int | None = None) -> str:
    key = f"{context_id}:{chunk}" if number is None else f"{context_id}@{number}:{chunk}"
    return str(uuid.uuid5(_NS, key))


class VectorIndex:
    """The search index over an index engine.

    With `connect` (and no `engine`), the engine is made on first use, and made again on the
    next call after it could not be (an unwritable directory, a server that is down), so a
    server starts with its index unusable and search recovers by itself.
    """

    def __init__(self, engine: IndexEngine | None, embeddings: EmbeddingService, *, collection: str = "contextql",
                 connect: Callable[[], IndexEngine] | None = None) -> None:
        if engine is None and connect is None:
            raise ValueError("give an index engine or a way to make one")
        self._connect = connect
        self.engine = engine
        self.embeddings = embeddings
        self.current = collection
        self.history = collection + "_history"
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="index")
        self._maintenance: asyncio.Task | None = None
        self._child: asyncio.subprocess.Process | None = None
        self.ready = False  # collections checked or created
        self.replaced = False  # an outdated collection was made anew by `ensure` (empty: rebuild it)
        self.optimized = 0  # optimisations swapped in (Edge)

    def _engine(self) -> IndexEngine:
        if self.engine is None:
            assert self._connect is not None
            self.engine = self._connect()
        return self.engine

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            return getattr(self._engine(), method)(*args, **kwargs)

        try:
            with span(f"qdrant {method}", **{"db.system": "qdrant", "db.system.name": "qdrant",
                                             "db.operation.name": method}):
                engine = self.engine
                if method == "query" and engine is not None and hasattr(engine, "aquery"):
                    return await engine.aquery(*args, **kwargs)  # served from the event loop (edge_process.py)
                return await asyncio.get_running_loop().run_in_executor(self._thread, run)
        except ValueError:
            raise  # a wrong argument is a bug, not an outage
        except (IndexInUseError, IndexProcessError) as exc:
            raise IndexUnavailableError(str(exc)) from exc
        except Exception as exc:
            raise IndexUnavailableError(f"the search index failed: {type(exc).__name__}") from exc

    async def _ready(self) -> None:
        """The collections exist (made now if the index was unusable when the server started)."""
        if not self.ready:
            await self.ensure()

    async def ping(self) -> None:
        """Raise unless the index answers (readiness)."""
        if not await self._call("exists", self.current):
            raise IndexUnavailableError(f"the search collection {self.current} is missing")

    # -- collections ------------------------------------------------------------

    async def ensure(self, *, recreate: bool = False, replace_outdated: bool = False) -> None:
        """Create the collections (vector size from the model); recreate if asked. A collection made
        for another model or tokenizer raises `IndexOutdatedError`, or with `replace_outdated` is made
        anew (empty) and `replaced` says so, for the caller to rebuild it."""
        for name in (self.current, self.history):
            exists = await self._call("exists", name)
            if exists and not recreate:
                problem = self._outdated(name, *await self._call("layout", name))
                if problem is None:
                    continue
                if not replace_outdated:
                    raise IndexOutdatedError(f"{problem}: run `contextql reindex --recreate`")
                self.replaced = True
            if exists:
                await self._call("drop", name)
            await self._call("create", name, self.embeddings.dim)
        self.ready = True

    def _outdated(self, name: str, dim: int, keywords: str | None) -> str | None:
        if dim != self.embeddings.dim:
            return f"collection {name} holds {dim}-dimensional vectors but the model makes {self.embeddings.dim}"
        if keywords != KEYWORDS:
            return (f"collection {name} holds keyword vectors of an older tokenizer ({keywords}, this version "
                    f"makes {KEYWORDS})")
        return None

    async def close(self) -> None:
        await self.stop_maintenance()
        try:
            if self.engine is not None:
                await self._call("close")
        finally:
            self._thread.shutdown(wait=False)

    # -- writes -----------------------------------------------------------------

    async def refresh(self, records: Sequence[ContextRecord]) -> None:
        """Make the current entries of `records` match them exactly (idempotent)."""
        await self.write(records, ())

    async def add_versions(self, versions: Sequence[VersionRecord]) -> None:
        """Index past versions (searched with `includeHistory`); idempotent per (context, version)."""
        await self.write((), versions)

    async def write(self, records: Sequence[ContextRecord], versions: Sequence[VersionRecord]) -> None:
        """`refresh(records)` and `add_versions(versions)` with ONE embedding call for all their chunks.

        A text embedded twice (a new context's first version is its current state) is embedded once."""
        if not records and not versions:
            return
        # Chunking and sparse vectors are pure Python: off the event loop, and off the index thread
        # (where they would hold up queries).
        current, past = await asyncio.to_thread(_chunks, records, versions)
        texts = list(dict.fromkeys(text for *_, text in current + past))
        vectors = dict(zip(texts, await self.embeddings.embed_documents(texts)))
        if records:
            await self._call("upsert", self.current, await asyncio.to_thread(_points, current, vectors))
            tails: dict[int, list[str]] = defaultdict(list)  # chunk count -> contexts: drop the chunks past it
            counts: dict[str, int] = {}
            for rec, i, *_ in current:
                counts[rec.id] = max(counts.get(rec.id, 0), i + 1)
            for context_id, count in counts.items():
                tails[count].append(context_id)
            for count, ids in tails.items():
                await self._call("delete", self.current, Where(must=(
                    AnyOf("context_id", tuple(ids)), AtLeast("chunk", count))))
        if versions:
            await self._call("upsert", self.history, await asyncio.to_thread(_points, past, vectors))

    async def remove(self, workspace: str, context_ids: Sequence[str]) -> None:
        """Remove every entry (current and history) of these contexts."""
        if not context_ids:
            return
        where = Where(must=(AnyOf("workspace", (workspace,)), AnyOf("context_id", tuple(context_ids))))
        for name in (self.current, self.history):
            await self._call("delete", name, where)

    # -- reads ------------------------------------------------------------------

    async def heads(self, workspace: str) -> dict[str, tuple[int, str]]:
        """context id -> (indexed version, indexed path), from the first chunk of every entry."""
        found: dict[str, tuple[int, str]] = {}
        offset = None
        where = Where(must=(AnyOf("workspace", (workspace,)), AnyOf("chunk", (0,))))
        while True:
            payloads, offset = await self._call("scroll", self.current, where, ["context_id", "version", "path"],
                                                offset, 1_000)
            for p in payloads:
                found[p["context_id"]] = (int(p["version"]), p["path"])
            if offset is None:
                return found

    async def history_heads(self, workspace: str) -> dict[str, set[int]]:
        """context id -> the version numbers the history collection holds (their first chunk), for `verify`."""
        found: dict[str, set[int]] = {}
        offset = None
        where = Where(must=(AnyOf("workspace", (workspace,)), AnyOf("chunk", (0,))))
        while True:
            payloads, offset = await self._call("scroll", self.history, where, ["context_id", "number"], offset, 1_000)
            for p in payloads:
                found.setdefault(p["context_id"], set()).add(int(p["number"]))
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
        dense = None if mode == "keyword" else await self.embeddings.embed_query(text)
        keywords = sparse if mode != "dense" and sparse[0] else None
        found = await self._call("query", collection, flt, fetch, dense=dense, sparse=keywords)
        return _best_per_key(found, history)

    async def similar(self, workspace: str, vector: list[float], where: SearchFilter, limit: int) -> list[IndexHit]:
        await self._ready()
        found = await self._call("query", self.current, _filter(workspace, where), max(limit * 4, 20), dense=vector)
        return _best_per_key(found, False)

    # -- engine upkeep (Edge: optimise in a child process, off the request path) ----

    async def optimize(self) -> int:
        """Optimise what the engine asks for, each shard in a child process; returns how many were swapped in."""
        if not hasattr(self._engine(), "plan_optimize"):
            return 0  # a Qdrant server optimises by itself
        done = 0
        for job in await self._call("plan_optimize"):
            ok = False
            try:
                try:
                    await asyncio.to_thread(job.copy)
                finally:
                    await self._call("resume_writes", job)
                self._child = await asyncio.create_subprocess_exec(
                    *job.command(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
                _, err = await self._child.communicate()
                ok = self._child.returncode == 0
                if ok:
                    await asyncio.to_thread(job.open)
                else:
                    logger.warning("search index optimisation of %s failed: %s", job.name,
                                   err.decode(errors="replace").strip().splitlines()[-1:])
            finally:
                self._child = None
                swapped = await self._call("finish_optimize", job, ok)
            if swapped:
                await asyncio.to_thread(job.retire)
                done += 1
        self.optimized += done
        return done

    def start_maintenance(self, interval: float = 30.0) -> None:
        """Optimise every `interval` seconds in the background (a no-op for a Qdrant server)."""
        if self._maintenance is None:
            self._maintenance = asyncio.create_task(self._maintain(interval), name="contextql-index-optimizer")

    async def _maintain(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.optimize()
            except Exception as exc:  # an unusable index: the next round tries again
                logger.warning("search index optimisation failed: %s", exc)

    async def stop_maintenance(self) -> None:
        task, self._maintenance = self._maintenance, None
        if self._child is not None and self._child.returncode is None:
            self._child.kill()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_Chunk = tuple[Any, int, str, str]  # (record or version, chunk number, chunk text, embedded passage)


def _chunks(records: Sequence[ContextRecord], versions: Sequence[VersionRecord]) -> tuple[list[_Chunk], list[_Chunk]]:
    def of(rec: ContextRecord | VersionRecord) -> list[_Chunk]:
        return [(rec, i, chunk, text)
                for i, (chunk, text) in enumerate(zip(split(rec.content), passages(rec.title, rec.path, rec.content)))]

    return [c for rec in records for c in of(rec)], [c for v in versions for c in of(v)]


def _points(chunks: Sequence[_Chunk], vectors: dict[str, list[float]]) -> list[Point]:
    points = []
    for rec, i, chunk, text in chunks:
        if isinstance(rec, ContextRecord):
            pid, payload = point_id(rec.id, i), _payload(rec, rec.version, i, chunk)
        else:
            pid = point_id(rec.context_id, i, rec.number)
            payload = {**_payload(rec, rec.number, i, chunk), "number": rec.number, "operation": rec.operation}
        points.append(Point(pid, vectors[text], document_vector(text), payload))
    return points


def _payload(rec: ContextRecord | VersionRecord, version: int, chunk: int, text: str) -> dict[str, Any]:
    context_id = rec.id if isinstance(rec, ContextRecord) else rec.context_id
    return {
        "workspace": rec.workspace, "context_id": context_id, "version": int(version), "path": rec.path,
        "ancestors": ancestors(rec.path), "kind": rec.kind, "tags": list(rec.tags), "chunk": chunk,
        "title": rec.title, "text": text,
    }


def _filter(workspace: str, where: SearchFilter) -> Where:
    must: list[AnyOf] = [AnyOf("workspace", (workspace,))]
    if where.path_prefix:
        must.append(AnyOf("ancestors", (where.path_prefix,)))
    if where.kinds:
        must.append(AnyOf("kind", tuple(where.kinds)))
    must.extend(AnyOf("tags", (tag,)) for tag in where.tags)
    must_not = (AnyOf("context_id", tuple(where.exclude_ids)),) if where.exclude_ids else ()
    return Where(must=tuple(must), must_not=must_not)


def _best_per_key(found: Sequence[Scored], history: bool) -> list[IndexHit]:
    hits: dict[Any, IndexHit] = {}
    for p in found:  # best first: keep a context's (or version's) first chunk seen
        payload = p.payload
        key = (payload["context_id"], payload.get("number")) if history else payload["context_id"]
        if key not in hits:
            hits[key] = IndexHit(
                context_id=payload["context_id"], version=int(payload["version"]), path=payload["path"],
                score=p.score, snippet=payload.get("text", ""), number=payload.get("number"), payload=payload,
            )
    return list(hits.values())
