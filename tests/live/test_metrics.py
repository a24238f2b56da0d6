"""`GET /metrics` scraped after a mixed workload on a live server, parsed with prometheus-client's own parser.

The counters are process-wide (as in production), so each check compares a scrape before and after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contextql.graph.events import ChangeEvent, ContextDetail
from contextql.graph.index import IndexWorker, VectorIndex
from contextql.server.app import create_app
from contextql.server.search import SearchRuntime
from contextql.server.settings import Settings
from tests.search.conftest import embeddings  # noqa: F401  (session fixture: the bundled model)
from contextql.graph.index.edge import EdgeEngine
from tests.search.faults import FlakyEngine

from .servers import CLIENT_TIMEOUT, live_server
from .test_subscriptions import CHANGES, CREATE, gql
from .wsclient import WsClient

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def until(check, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_metrics_after_a_mixed_workload(store, workspace, embeddings, tmp_path):
    qdrant = FlakyEngine(EdgeEngine(tmp_path / "index"))
    index = VectorIndex(qdrant, embeddings, collection="metrics")
    await index.ensure()
    worker = IndexWorker(store, index, workspace=workspace, backoff=0.05, backoff_max=0.2, poll=0.02)
    worker.start()
    try:
        async with live_server(store, workspace, SearchRuntime(index, worker), subscription_buffer=3) as server, \
                httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
            before = await scrape(http)
            qdrant.down = True  # the index refreshes of the writes below fail, and are retried later
            for _ in range(3):
                await gql(http, "query Listing { contexts(first: 5) { totalCount } }")
            await gql(http, CREATE, i={"path": "/m/a", "data": {"db": {"host": "h"}}})
            await gql(http, "mutation MakeB { createContext(input: {path: \"/m/b\"}) { id } }")
            missing = (await http.post("/graphql", json={"query": "query Missing { contextById(id: 1) { id } }"})).json()
            assert missing["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            broken = (await http.post("/graphql", json={"query": "query {"})).json()
            assert broken["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
            conflict = (await http.post("/graphql", json={"query": 'mutation { createContext(input: {path: "/m/a"}) { id } }'})).json()
            assert conflict["errors"][0]["extensions"]["code"] == "CONFLICT"
            await gql(http, """mutation { executeTool(tool: "builtin.extract", contextPath: "/m/a",
                                input: {path: "/m/a", expression: "db.host"}) { status } }""")
            await until(lambda: worker.failed > 0)
            async with WsClient(server.ws) as ws:
                op = await ws.subscribe(CHANGES, prefix="/", kinds=None, ops=None)
                await ws.ready(server)
                await server.bus.publish([
                    ChangeEvent(workspace=workspace, topic="context", operation="updated", key="k", at=i, principal="p",
                                path=f"/burst/{i}", kind="note", version=i, detail=ContextDetail(id="k"))
                    for i in range(1, 11)])  # a buffer of 3: 7 dropped
                during = await scrape(http)
                for _ in range(4):
                    await ws.next(op)
            after = await scrape(http)
            qdrant.down = False
    finally:
        await worker.stop()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Operations and their latency, per operation name and type; anonymous ones are "anonymous".
    assert delta("contextql_graphql_operations_total", operation="Listing", type="query") == 3
    assert delta("contextql_graphql_operation_duration_seconds_count", operation="Listing", type="query") == 3
    assert 0 < delta("contextql_graphql_operation_duration_seconds_sum", operation="Listing", type="query") < 30
    assert delta("contextql_graphql_operations_total", operation="MakeB", type="mutation") == 1
    assert delta("contextql_graphql_operations_total", operation="anonymous", type="mutation") >= 3
    assert delta("contextql_graphql_operations_total", type="unknown") >= 1  # the one that did not parse
    # Errors by extensions.code.
    for code in ("GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "CONFLICT"):
        assert delta("contextql_graphql_errors_total", code=code) >= 1, code
    # Graph statements and their latency, per backend: several per operation.
    backend = store.backend
    statements = delta("contextql_store_statement_duration_seconds_count", backend=backend)
    assert statements >= 8
    assert 0 < delta("contextql_store_statement_duration_seconds_sum", backend=backend) < 60
    assert value(after, "contextql_store_statement_duration_seconds_bucket", backend=backend, le="+Inf") == \
        value(after, "contextql_store_statement_duration_seconds_count", backend=backend)
    # The outbox while the index was down: tasks waiting, the oldest for a plausible time.
    assert value(during, "contextql_index_outbox_depth") >= 2
    assert 0 < value(during, "contextql_index_outbox_oldest_age_seconds") < 24 * 3600
    assert delta("contextql_index_failures_total") >= 1
    # One subscription was open during the burst, none after; the burst lost 7 events.
    assert value(during, "contextql_subscriptions_open") - value(before, "contextql_subscriptions_open") == 1
    assert value(after, "contextql_subscriptions_open") == value(before, "contextql_subscriptions_open")
    assert delta("contextql_subscription_events_dropped_total") == 7
    assert delta("contextql_tool_runs_total", status="succeeded") == 1
    assert "contextql_rate_limit_refusals_total" in names(after)


def _app(store, workspace: str, **settings) -> httpx.AsyncClient:
    app = create_app(Settings(workspace=workspace, _env_file=None, **settings), store=store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_rate_limit_refusals_are_counted(store, workspace):
    async with _app(store, workspace, rate_limit_operations=2) as http:
        before = await scrape(http)
        codes: Iterable = []
        for _ in range(4):
            body = (await http.post("/graphql", json={"query": "{ contexts(first: 1) { totalCount } }"})).json()
            codes = [*codes, *(e["extensions"]["code"] for e in body.get("errors", []))]
        after = await scrape(http)
    refused = list(codes).count("RATE_LIMITED")
    assert refused >= 1
    assert value(after, "contextql_rate_limit_refusals_total") - value(before, "contextql_rate_limit_refusals_total") \
        == refused
    assert value(after, "contextql_graphql_errors_total", code="RATE_LIMITED") - \
        value(before, "contextql_graphql_errors_total", code="RATE_LIMITED") == refused


async def test_a_metrics_token_is_required_when_set(store, workspace):
    async with _app(store, workspace, metrics_token="s3cret") as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        samples = await scrape(http, Authorization="Bearer s3cret")
        assert "contextql_graphql_operations_total" in names(samples) or \
            "contextql_store_statement_duration_seconds_count" in names(samples)


async def test_metrics_can_be_turned_off(store, workspace):
    async with _app(store, workspace, metrics=False) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_operation_names_are_bounded():
    from contextql.server.metrics import BoundedLabels, operation_label

    assert operation_label(None) == "anonymous"
    assert operation_label("not a name!") == "other"
    labels = BoundedLabels(3)
    assert [labels(f"Op{i}") for i in range(5)] == ["Op0", "Op1", "Op2", "other", "other"]
    assert labels("Op1") == "Op1"
