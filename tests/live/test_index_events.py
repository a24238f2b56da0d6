"""`indexChanged` over a live server: the outbox worker's results, on the in-process and the Redis bus.

The worker runs in the background as in production, over a real Qdrant Edge index behind the
fault-injecting engine of tests/search (an outage is `engine.down = True`).
"""

from __future__ import annotations

import httpx
import pytest
from contextql.graph.index import IndexWorker, VectorIndex
from contextql.graph.index.edge import EdgeEngine
from contextql.server.search import SearchRuntime
from tests.search.conftest import embeddings  # noqa: F401  (session fixture: the bundled model)
from tests.search.faults import FlakyEngine

from .servers import CLIENT_TIMEOUT, live_server
from .test_subscriptions import CREATE, UPDATE, gql
from .wsclient import WsClient

INDEX = """subscription($prefix: String!) {
  indexChanged(pathPrefix: $prefix) {
    __typename
    ... on IndexChangeEvent { operation id path version attempts nextRetryAt error context { version } }
    ... on EventsDropped { count }
  }
}"""


@pytest.fixture(params=["memory", "redis"])
def bus_settings(request) -> dict:
    return {"redis_url": request.getfixturevalue("redis_url")} if request.param == "redis" else {}


async def _until(ws, op, context_id: str, operation: str, timeout: float = 30) -> list[dict]:
    """Index events of `op` up to and including the first `operation` for `context_id`."""
    seen = []
    while True:
        event = (await ws.next(op, timeout))["data"]["indexChanged"]
        assert event["__typename"] == "IndexChangeEvent", event
        seen.append(event)
        if event["id"] == context_id and event["operation"] == operation:
            return seen


async def test_index_changed_reports_indexed_then_failed_then_indexed(store, workspace, embeddings, tmp_path,
                                                                    bus_settings):
    engine = FlakyEngine(EdgeEngine(tmp_path / "index"))
    index = VectorIndex(engine, embeddings, collection="live")
    await index.ensure()
    worker = IndexWorker(store, index, workspace=workspace, backoff=0.05, backoff_max=0.2, poll=0.02)
    worker.start()
    try:
        async with live_server(store, workspace, SearchRuntime(index, worker), **bus_settings) as server, \
                httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
            assert worker.events is server.bus
            async with WsClient(server.ws) as ws:
                op = await ws.subscribe(INDEX, prefix="/ix")
                await ws.ready(server)
                created = (await gql(http, CREATE, i={"path": "/ix/a", "title": "Key rotation",
                                                      "content": "Rotate API keys every 90 days."}))["createContext"]
                await gql(http, CREATE, i={"path": "/elsewhere"})  # outside the prefix: never seen
                seen = await _until(ws, op, created["id"], "INDEXED")
                indexed = seen[-1]
                assert (indexed["path"], indexed["version"], indexed["attempts"]) == ("/ix/a", 1, 1)
                assert indexed["nextRetryAt"] is None and indexed["error"] is None
                assert {e["path"] for e in seen} <= {"/ix", "/ix/a"}  # the parent, created with it

                engine.down = True  # the index unreachable: the write succeeds, indexing fails and backs off
                await gql(http, UPDATE, p="/ix/a", t="Key rotation v2")
                failed = (await _until(ws, op, created["id"], "FAILED"))[-1]
                assert failed["version"] == 2 and failed["attempts"] == 1 and failed["path"] == "/ix/a"
                assert failed["nextRetryAt"] is not None and "ConnectionRefusedError" in failed["error"]

                engine.down = False  # restored: the next retry goes through
                seen = await _until(ws, op, created["id"], "INDEXED")
                assert all(e["operation"] == "FAILED" for e in seen[:-1])
                assert seen[-1]["version"] == 2 and seen[-1]["attempts"] >= 2
                assert seen[-1]["context"] == {"version": 2}
    finally:
        engine.down = False
        await worker.stop()
        await index.close()
