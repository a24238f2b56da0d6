"""GraphQL over HTTP as clients meet it: GET, GraphiQL, limits, error hygiene, and a real socket."""

from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn

from server.app import create_app

from .conftest import settings_for


async def test_get_runs_queries_but_not_mutations(api):
    ok = await api.client.get("/graphql", params={"query": "{ contexts { totalCount } }"})
    assert ok.status_code == 200 and ok.json()["data"] == {"contexts": {"totalCount": 0}}
    refused = await api.client.get("/graphql", params={"query": 'mutation { deleteContext(path: "/x") { deletedCount } }'})
    assert refused.status_code in (400, 405)


async def test_browsers_get_graphiql(api):
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_oversized_body_is_refused_before_parsing(store, workspace):
    app = create_app(settings_for(workspace, max_body_bytes=1000), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/graphql", json={"query": "{ contexts { totalCount } }", "pad": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": 1000}


async def test_errors_have_codes_and_no_internals(api):
    syntax = await api.run("{ contexts { ")
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown = await api.run("{ nope }")
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad_var = await api.run("query($n: Int) { contexts(first: $n) { totalCount } }", n="ten")
    assert bad_var["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for body in (syntax, unknown, bad_var):
        text = str(body)
        assert "Traceback" not in text and "MATCH" not in text


async def test_deep_queries_are_refused(api):
    nested = "{ context(path: \"/a\") { " + "parent { " * 20 + "path" + " }" * 20 + " } }"
    error = await api.error(nested)
    assert "depth" in error["message"].lower()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_real_uvicorn_over_a_socket(store, workspace):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings_for(workspace), store=store),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            created = await client.post("/graphql", json={
                "query": 'mutation { createContext(input: {path: "/over-tcp", title: "hi"}) { path version } }'})
            assert created.json() == {"data": {"createContext": {"path": "/over-tcp", "version": 1}}}
            health = await client.get("/healthz")
            assert health.json() == {"status": "ok", "graph": store.backend}
    finally:
        server.should_exit = True
        await task


async def test_debug_stats_count_store_round_trips_only_when_enabled(api, store, workspace):
    assert (await api.client.get("/debug/stats")).status_code == 404
    app = create_app(settings_for(workspace, debug_stats=True), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        before = (await client.get("/debug/stats")).json()
        await client.post("/graphql", json={"query": '{ context(path: "/nothing") { path } }'})
        after = (await client.get("/debug/stats")).json()
    assert before["backend"] == store.backend and after["queries"] - before["queries"] >= 1


async def test_too_many_aliases_are_refused(api):
    aliased = "{ " + " ".join(f"a{i}: contexts {{ totalCount }}" for i in range(31)) + " }"
    error = await api.error(aliased)
    assert "aliases" in error["message"].lower()
    fine = "{ " + " ".join(f"a{i}: contexts {{ totalCount }}" for i in range(5)) + " }"
    assert (await api.data(fine))["a4"] == {"totalCount": 0}
