"""Semantic search wiring: embedder + Qdrant index + outbox worker, from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.events import EventBus
from contextql.graph.index import IndexWorker, VectorIndex
from contextql.graph.index.qdrant import IndexUnavailableError
from contextql.graph.store import GraphStore

from .settings import Settings

logger = logging.getLogger("contextql.search")


@dataclass
class SearchRuntime:
    index: VectorIndex
    worker: IndexWorker | None = None

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        await self.index.close()
        self.index.embeddings.close()


def qdrant_client(settings: Settings) -> Any:
    """A Qdrant server/cluster by URL, else local mode under the data directory (one process at a time).

    Raises when it cannot be made (an unwritable or locked directory): the index retries it."""
    from qdrant_client import QdrantClient

    if settings.qdrant_url:
        return QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key or None, timeout=10)
    path = settings.data_dir / "qdrant"
    path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(path))


def make_embeddings(settings: Settings) -> EmbeddingService:
    return EmbeddingService(make_embedder(
        settings.embedder, model=settings.embedding_model, url=settings.embedding_url,
        api_key=settings.embedding_api_key, cache_dir=settings.data_dir / "models",
    ))


async def open_index(settings: Settings, *, client: Any = None, embeddings: EmbeddingService | None = None,
                     recreate: bool = False, required: bool = True) -> VectorIndex:
    """The configured index. With `required=False` an unreachable index is logged, not raised:
    the worker creates the collections once it is back (graph writes never wait for it)."""
    index = VectorIndex(client, embeddings or make_embeddings(settings), connect=lambda: qdrant_client(settings),
                        collection=settings.qdrant_collection, server=bool(settings.qdrant_url))
    try:
        await index.ensure(recreate=recreate)
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
    index = await open_index(settings, required=False)
    if store.single_process:
        released = await store.release_index_claims()  # a killed process's claims, not 120 s later
        if released:
            logger.info("took over %d search-index task(s) claimed by a previous run", released)
    worker = IndexWorker(store, index, events=events)
    worker.start()
    return SearchRuntime(index, worker)


async def stop_search(runtime: SearchRuntime | None) -> None:
    if runtime is not None:
        await runtime.close()
