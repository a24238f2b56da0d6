"""Real npm clients (graphql-ws over WebSocket, graphql-sse over SSE) against a live server."""

from __future__ import annotations

import asyncio
import json
import shutil

import httpx
import pytest

from .conftest import JS
from .servers import CLIENT_TIMEOUT, live_server
from .test_subscriptions import CREATE, UPDATE, gql

QUERY = """subscription($p: String!) { contextChanged(pathPrefix: $p) {
  ... on ContextChangeEvent { operation path version context { title } } ... on EventsDropped { count } } }"""


async def run_client(transport: str, url: str, count: int, query: str, variables: dict, params: dict | None = None):
    process = await asyncio.create_subprocess_exec(
        shutil.which("node"), str(JS / "subscribe.mjs"), transport, url, str(count), query, json.dumps(variables),
        json.dumps(params or {}), cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    return process


async def lines(process, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, (await process.stderr.read()).decode()
        out.append(json.loads(line))
        assert "failed" not in out[-1], out[-1]
    return out


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_npm_client_subscribes_and_receives_http_mutations_in_order(store, workspace, node_modules, transport):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        url = server.ws if transport == "ws" else server.http + "/graphql/stream"
        client = await run_client(transport, url, 4, QUERY, {"p": "/js"}, {"authorization": "Bearer not-checked-yet"})
        try:
            assert await lines(client, 1) == [{"ready": True}]
            for _ in range(1000):  # the client subscribes asynchronously after connecting
                if server.bus.subscriptions:
                    break
                await asyncio.sleep(0.01)
            await gql(http, CREATE, i={"path": "/js/a", "title": "one"})
            for title in ("two", "three"):
                await gql(http, UPDATE, p="/js/a", t=title)
            results = [r["data"]["contextChanged"] for r in await lines(client, 4)]
            assert await asyncio.wait_for(client.wait(), 30) == 0
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
    assert [(r["operation"], r["path"], r["version"]) for r in results] == [
        ("CREATED", "/js", 1), ("CREATED", "/js/a", 1), ("UPDATED", "/js/a", 2), ("UPDATED", "/js/a", 3),
    ]
    assert results[-1]["context"] == {"title": "three"}
