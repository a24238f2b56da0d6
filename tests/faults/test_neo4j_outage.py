"""A real Neo4j outage: requests fail fast with 503 + Retry-After, /readyz says so, and the server recovers.

A dedicated Neo4j (not the session's shared one) is started, killed under a running app, and
started again on the same port and data directory.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from contextql.graph.neo4j import Neo4jStore
from contextql.migrations import migrate
from contextql.server.app import create_app
from tests.api.conftest import settings_for
from tests.neo4j_server import start_server

TIMEOUT = 3.0  # the store's operation timeout in this test
QUERY = {"query": '{ context(path: "/up") { path } }'}
WRITE = {"query": 'mutation { updateContext(path: "/up", input: {title: "during outage"}) { version } }'}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_neo4j(tmp_path):
    port = _free_port()
    home = tmp_path / "neo4j"
    server = start_server(home, port=port)
    holder = {"server": server}
    yield holder, home, port
    holder["server"].stop(10)


async def test_outage_fails_fast_with_503_and_recovers_without_restart(own_neo4j, workspace):
    holder, home, port = own_neo4j
    store = Neo4jStore(holder["server"].uri, "neo4j", "", timeout=TIMEOUT, connection_timeout=1.0)
    await store.open()
    await migrate(store)
    app = create_app(settings_for(workspace), store=store)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            made = await client.post("/graphql", json={"query": 'mutation { createContext(input: {path: "/up"}) { path } }'})
            assert made.status_code == 200 and not made.json().get("errors")
            assert (await client.get("/readyz")).status_code == 200

            holder["server"].process.kill()  # an outage, not a clean shutdown
            holder["server"].process.wait(10)

            for body in (QUERY, WRITE):
                started = time.monotonic()
                response = await client.post("/graphql", json=body)
                took = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"].isdigit()
                error = response.json()["errors"][0]
                assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
                assert "Neo." not in error["message"] and "bolt" not in error["message"].lower()
                assert took < TIMEOUT + 2.5, f"took {took:.1f} s with a {TIMEOUT} s timeout"
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["graph"] != "ok"
            assert (await client.get("/healthz")).status_code == 200  # liveness: the process is fine

            holder["server"] = start_server(home, port=port)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                response = await client.post("/graphql", json=QUERY)
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.5)
            assert response.json()["data"] == {"context": {"path": "/up"}}
            assert (await client.get("/readyz")).status_code == 200
            written = await client.post("/graphql", json=WRITE)
            assert written.status_code == 200 and written.json()["data"]["updateContext"]["version"] == 2
    finally:
        await store.close()
