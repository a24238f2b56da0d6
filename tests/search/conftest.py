"""Search fixtures: the real embedder (bundled model) and a real local-mode Qdrant per test,
behind a fault-injecting wrapper; the outbox worker is driven by the tests (no timing races)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from qdrant_client import QdrantClient

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.index import IndexWorker, VectorIndex
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.app import create_app
from contextql.server.search import SearchRuntime
from tests.api.conftest import Api, settings_for

from .faults import FlakyQdrant


@pytest.fixture(scope="session")
def embeddings() -> EmbeddingService:
    service = EmbeddingService(make_embedder("fastembed"))
    yield service
    service.close()


@dataclass
class Search:
    index: VectorIndex
    worker: IndexWorker
    qdrant: FlakyQdrant

    async def drain(self) -> None:
        await self.worker.drain(timeout=60)


@pytest.fixture
async def search(store, workspace, embeddings, tmp_path) -> Search:
    qdrant = FlakyQdrant(QdrantClient(path=str(tmp_path / "qdrant")))
    index = VectorIndex(qdrant, embeddings, collection="test")
    await index.ensure()
    worker = IndexWorker(store, index, workspace=workspace, backoff=0.02, backoff_max=0.1, poll=0.02)
    yield Search(index, worker, qdrant)
    qdrant.down = False
    await index.close()


@pytest.fixture
def ctx(store, workspace, search) -> RequestContext:
    """A fresh request context (new DataLoaders) each time it is called."""
    return lambda: RequestContext(store=store, principal=ANONYMOUS, workspace=workspace, search=search.index)


@pytest.fixture
async def search_api(store, workspace, search) -> Api:
    app = create_app(settings_for(workspace), store=store, search=SearchRuntime(search.index))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Api(client)
