"""The Redis event bus: real redis-server, several bus instances, and two API processes sharing it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from contextql.graph.events import ChangeEvent, ContextDetail, Dropped
from contextql.graph.events.redis import RedisBus
from tests.conftest import BACKENDS

from .servers import ServerProcess
from .wsclient import WsClient


def event(workspace: str, key: str, n: int, path: str = "/x") -> ChangeEvent:
    return ChangeEvent(workspace=workspace, topic="context", operation="updated", key=key, at=n, principal="p",
                       path=path, kind="note", version=n, detail=ContextDetail(id=key))


async def next_items(subscription, n: int) -> list:
    items, stream = [], subscription.events()
    for _ in range(n):
        items.append(await asyncio.wait_for(anext(stream), 5))
    return items


async def test_events_published_on_one_bus_reach_subscribers_of_another_in_order(redis_url, workspace):
    channel = f"test:{uuid.uuid4().hex}"
    a, b = RedisBus(redis_url, channel=channel), RedisBus(redis_url, channel=channel)
    await a.start()
    await b.start()
    try:
        on_a = a.subscribe(workspace, lambda e: True)
        on_b = b.subscribe(workspace, lambda e: e.key == "k1")
        foreign = b.subscribe("another-workspace", lambda e: True)
        await a.publish([event(workspace, "k1" if i % 2 else "k2", i) for i in range(1, 201)])
        got_b = await next_items(on_b, 100)
        assert [e.version for e in got_b] == list(range(1, 201, 2))  # order per key kept across instances
        got_a = await next_items(on_a, 200)
        assert [e.version for e in got_a] == list(range(1, 201))  # and the publisher's own subscribers see one order
        assert not foreign.buffer and not foreign.dropped
    finally:
        await a.stop()
        await b.stop()


async def test_a_subscriber_that_does_not_read_is_told_what_it_lost(redis_url, workspace):
    bus = RedisBus(redis_url, channel=f"test:{uuid.uuid4().hex}", buffer_size=10)
    await bus.start()
    try:
        slow = bus.subscribe(workspace, lambda e: True)
        fast = bus.subscribe(workspace, lambda e: True, size=1000)
        await bus.publish([event(workspace, "k", i) for i in range(1, 101)])
        assert [e.version for e in await next_items(fast, 100)] == list(range(1, 101))
        items = await next_items(slow, 11)
        assert [e.version for e in items[:10]] == list(range(1, 11)) and items[10] == Dropped(90)
    finally:
        await bus.stop()


async def test_stop_completes_open_streams(redis_url, workspace):
    bus = RedisBus(redis_url, channel=f"test:{uuid.uuid4().hex}")
    await bus.start()
    subscription = bus.subscribe(workspace, lambda e: True)
    reader = asyncio.create_task(next_items(subscription, 1))
    await asyncio.sleep(0.05)
    await bus.stop()
    with pytest.raises(StopAsyncIteration):
        await reader


CHANGES = """subscription { contextChanged(pathPrefix: "/") {
  ... on ContextChangeEvent { operation path version context { title } } ... on EventsDropped { count } } }"""
CREATE = "mutation($p: String!, $t: String) { createContext(input: {path: $p, title: $t}, createParents: true) { id } }"
UPDATE = "mutation($p: String!, $t: String!) { updateContext(path: $p, input: {title: $t}) { version } }"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_two_api_instances_share_events_through_redis(backend, redis_url, workspace, tmp_path, tmp_path_factory):
    """Mutate through one uvicorn process; a subscriber connected to the other one receives it."""
    env = {"CONTEXTQL_REDIS_URL": redis_url, "CONTEXTQL_WORKSPACE": workspace, "CONTEXTQL_REDIS_CHANNEL": f"test:{workspace}"}
    if backend == "neo4j":
        from tests.neo4j_server import ensure_neo4j

        env = {**env, "CONTEXTQL_NEO4J_URI": ensure_neo4j(tmp_path_factory), "CONTEXTQL_NEO4J_PASSWORD": ""}
    # Local files (an embedded store, a local index) belong to one process: each instance has its own.
    # With ladybug the graphs differ too; the events still cross.
    env_a = {**env, "CONTEXTQL_DATA_DIR": str(tmp_path / "a")}
    env_b = {**env, "CONTEXTQL_DATA_DIR": str(tmp_path / "b")}
    # One after the other: two instances migrating a fresh Neo4j at once race (see the report of issue 6).
    a = ServerProcess(env_a, tmp_path / "a.log")
    b = None
    try:
        await a.ready()
        b = ServerProcess(env_b, tmp_path / "b.log")
        await b.ready()
        async with WsClient(b.ws) as ws, httpx.AsyncClient(base_url=a.http) as http:
            op = await ws.subscribe(CHANGES)
            await _until_subscribed(ws, op, http)
            await _post(http, CREATE, p="/shared/doc", t="one")
            await _post(http, UPDATE, p="/shared/doc", t="two")
            await _post(http, UPDATE, p="/shared/doc", t="three")
            got = [(await ws.next(op))["data"]["contextChanged"] for _ in range(4)]
        assert [(e["operation"], e["path"], e["version"]) for e in got] == [
            ("CREATED", "/shared", 1), ("CREATED", "/shared/doc", 1), ("UPDATED", "/shared/doc", 2), ("UPDATED", "/shared/doc", 3),
        ]
        if backend == "neo4j":  # same graph: the payload's live context is readable on the other instance
            assert got[-1]["context"] == {"title": "three"}
    finally:
        for server, name in ((a, "a.log"), (b, "b.log")):
            if server is None:
                continue
            code, log = server.stop(), (tmp_path / name).read_text()
            # uvicorn re-raises SIGTERM after its graceful shutdown, hence -15
            assert code in (0, -15) and "Traceback" not in log, log[-3000:]


async def _post(http: httpx.AsyncClient, query: str, **variables) -> dict:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert not body.get("errors"), body
    return body["data"]


async def _until_subscribed(ws: WsClient, op: str, http: httpx.AsyncClient) -> None:
    """Subscribing is asynchronous: write probes until one arrives, then drain them."""
    for i in range(100):
        await _post(http, CREATE, p=f"/probe-{i}")
        try:
            first = await ws.next(op, timeout=0.3)
        except TimeoutError:
            continue
        expected = {f"/probe-{j}" for j in range(i + 1)} - {first["data"]["contextChanged"]["path"]}
        while expected:
            expected.discard((await ws.next(op, timeout=5))["data"]["contextChanged"]["path"])
        return
    raise AssertionError("the subscription never became live")
