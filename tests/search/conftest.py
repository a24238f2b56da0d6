"""Search fixtures: the real embedder (bundled model) and a real index engine per test, behind a
fault-injecting wrapper; the outbox worker is driven by the tests (no timing races).

Every search test runs on both deployments (`index_engine`): `edge` (Qdrant Edge, the embedded
default, in-process; `edge-process` serves it from a child process, `CONTEXTQL_INDEX_PROCESS`) and
`server` (qdrant-client; its local mode stands in for a Qdrant server, which cannot be installed here)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from qdrant_client import QdrantClient

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.index import IndexWorker, VectorIndex
from contextql.graph.index.edge import EdgeEngine
from contextql.graph.index.edge_process import EdgeProcessEngine
from contextql.graph.index.qdrant_engine import QdrantClientEngine
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.app import create_app
from contextql.server.search import SearchRuntime
from tests.api.conftest import Api, settings_for

from .faults import FlakyEngine


@pytest.fixture(scope="session")
def embeddings() -> EmbeddingService:
    service = EmbeddingService(make_embedder("fastembed"))
    yield service
    service.close()


@dataclass
class Search:
    index: VectorIndex
    worker: IndexWorker
    engine: FlakyEngine

    async def drain(self) -> None:
        await self.worker.drain(timeout=60)


def make_engine(kind: str, folder):
    if kind == "edge":
        return EdgeEngine(folder / "index")
    if kind == "edge-process":
        return EdgeProcessEngine(folder / "index")
    return QdrantClientEngine(QdrantClient(path=str(folder / "qdrant")), server=False)


@pytest.fixture(params=["edge", "server"])
def index_engine(request, tmp_path):
    return make_engine(request.param, tmp_path)


@pytest.fixture
async def search(store, workspace, embeddings, index_engine) -> Search:
    engine = FlakyEngine(index_engine)
    index = VectorIndex(engine, embeddings, collection="test")
    await index.ensure()
    worker = IndexWorker(store, index, workspace=workspace, backoff=0.02, backoff_max=0.1, poll=0.02)
    yield Search(index, worker, engine)
    engine.down = False
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
