"""Semantic search wiring: embedder + index engine + outbox worker, from the settings.

The index engine is Qdrant Edge under `<data dir>/index` (embedded), or a Qdrant server or
cluster by URL (`CONTEXTQL_QDRANT_URL`). Earlier versions kept the embedded index in
qdrant-client's local mode under `<data dir>/qdrant`; a server that finds that folder rebuilds
the index from the graph in the background and then deletes the folder (the graph is the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.events import EventBus
from contextql.graph.index import IndexWorker, VectorIndex, reindex
from contextql.graph.index.engine import IndexEngine
from contextql.graph.index.qdrant import IndexUnavailableError
from contextql.graph.store import GraphStore

from .settings import Settings

logger = logging.getLogger("contextql.search")


@dataclass
class SearchRuntime:
    index: VectorIndex
    worker: IndexWorker | None = None
    rebuild: asyncio.Task | None = field(default=None, repr=False)  # of an index the old local mode made

    async def close(self) -> None:
        if self.rebuild is not None:
            self.rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.rebuild
        if self.worker is not None:
            await self.worker.stop()
        await self.index.close()
        self.index.embeddings.close()


def index_engine(settings: Settings) -> IndexEngine:
    """A Qdrant server/cluster by URL, else Qdrant Edge under the data directory (one process at a time).

    Raises when it cannot be made (an unwritable directory): the index retries it."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from contextql.graph.index.qdrant_engine import QdrantClientEngine

        return QdrantClientEngine(QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key or None,
                                               timeout=10))
    if settings.index_process:
        # Qdrant Edge holds the GIL for a whole query: in a child process it does not stall the event loop,
        # at the price of the IPC in both processes (bench/results/search-edgeproc-2026-12-02.md).
        from contextql.graph.index.edge_process import EdgeProcessEngine

        return EdgeProcessEngine(edge_dir(settings))
    from contextql.graph.index.edge import EdgeEngine

    return EdgeEngine(edge_dir(settings))


def edge_dir(settings: Settings) -> Path:
    return settings.data_dir / "index"


def legacy_dir(settings: Settings) -> Path | None:
    """The folder of an index the old qdrant-client local mode made, if this deployment has one."""
    path = settings.data_dir / "qdrant"
    return path if not settings.qdrant_url and path.is_dir() else None


def make_embeddings(settings: Settings) -> EmbeddingService:
    return EmbeddingService(make_embedder(
        settings.embedder, model=settings.embedding_model, url=settings.embedding_url,
        api_key=settings.embedding_api_key, cache_dir=settings.data_dir / "models", threads=settings.embedding_threads,
    ))


async def open_index(settings: Settings, *, engine: IndexEngine | None = None, embeddings: EmbeddingService | None = None,
                     recreate: bool = False, required: bool = True, replace_outdated: bool = False) -> VectorIndex:
    """The configured index. With `required=False` an unreachable index is logged, not raised:
    the worker creates the collections once it is back (graph writes never wait for it).
    With `replace_outdated`, collections made for another model or tokenizer are made anew (empty;
    `index.replaced` says so)."""
    index = VectorIndex(engine, embeddings or make_embeddings(settings), connect=lambda: index_engine(settings),
                        collection=settings.qdrant_collection)
    try:
        await index.ensure(recreate=recreate, replace_outdated=replace_outdated)
    except IndexUnavailableError as exc:
        if required:
            raise
        logger.warning("search index unavailable at start-up (%s); will retry", exc)
    return index


async def start_search(settings: Settings, store: GraphStore, events: EventBus | None = None) -> SearchRuntime | None:
    """Open the index and start the outbox worker (None when search is switched off).

    With `events`, the worker publishes `index` events (indexed / removed / failed) there."""
    if not settings.search:
        return None
    # The embedded index is this server's own: one made for another model or tokenizer is replaced and
    # rebuilt. A Qdrant server's collections may serve other instances, so there it stays an error
    # (search answers it) until an operator runs `contextql reindex --recreate`.
    index = await open_index(settings, required=False, replace_outdated=not settings.qdrant_url)
    if store.single_process:
        released = await store.release_index_claims()  # a killed process's claims, not 120 s later
        if released:
            logger.info("took over %d search-index task(s) claimed by a previous run", released)
    worker = IndexWorker(store, index, events=events)
    worker.start()
    index.start_maintenance(settings.index_optimize_interval)
    runtime = SearchRuntime(index, worker)
    legacy = legacy_dir(settings)
    if legacy is not None:
        logger.warning("search index: replacing the old local-mode index in %s with Qdrant Edge in %s, rebuilding "
                       "workspace %r from the graph in the background (another workspace: `contextql reindex "
                       "--workspace NAME`)", legacy, edge_dir(settings), settings.workspace)
    elif index.replaced:
        logger.warning("search index: the embedded index in %s was made for another model or tokenizer; "
                       "rebuilding workspace %r from the graph in the background (another workspace: "
                       "`contextql reindex --workspace NAME`)", edge_dir(settings), settings.workspace)
    if legacy is not None or index.replaced:
        runtime.rebuild = asyncio.create_task(rebuild(store, index, settings.workspace, legacy),
                                              name="contextql-index-rebuild")
    return runtime


async def rebuild(store: GraphStore, index: VectorIndex, workspace: str, legacy: Path | None) -> None:
    """Rebuild the index from the graph, then delete the old local-mode folder if there was one
    (so this happens once)."""
    try:
        count = await reindex(store, index, workspace)
    except Exception as exc:  # an old local-mode folder stays: the next start tries again
        logger.warning("search index rebuild failed (%s); run `contextql reindex`", exc)
        return
    if legacy is not None:
        await asyncio.to_thread(shutil.rmtree, legacy, True)
    logger.info("search index rebuilt: %d context(s) of workspace %r%s", count, workspace,
                f"; removed {legacy}" if legacy is not None else "")


async def stop_search(runtime: SearchRuntime | None) -> None:
    if runtime is not None:
        await runtime.close()
