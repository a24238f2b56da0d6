"""GraphQL over HTTP as clients meet it: GET, GraphiQL, limits, error hygiene, and a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed

from contextql.server.app import create_app
from contextql.server.settings import Settings

from .conftest import settings_for


async def test_get_runs_queries_but_not_mutations(api):
    ok = await api.client.get("/graphql", params={"query": "{ contexts { totalCount } }"})
    assert ok.status_code == 200 and ok.json()["data"] == {"contexts": {"totalCount": 0}}
    refused = await api.client.get("/graphql", params={"query": 'mutation { deleteContext(path: "/x") { deletedCount } }'})
    assert refused.status_code in (400, 405)


async def test_browsers_get_graphiql(api):
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    # what Chromium sends when a person types the address
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    page = await api.client.get("/graphql", headers={"accept": browser})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/graphql-response+json"])
async def test_a_get_without_a_query_from_a_script_is_a_graphql_error_not_a_web_page(api, accept):
    """`curl /graphql` (Accept: */*) and fetch() get JSON saying what to send; only a browser gets GraphiQL."""
    headers = {} if accept is None else {"accept": accept}
    if accept is None:
        api.client.headers.pop("accept", None)
    response = await api.client.get("/graphql", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].split(";")[0] in ("application/json", "application/graphql-response+json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "query" in error["message"] and "browser" in error["message"] and "<html" not in response.text


async def test_without_graphiql_a_bare_get_names_no_page(store, workspace):
    app = create_app(settings_for(workspace, production=True), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for accept in ("*/*", "text/html"):
            response = await client.get("/graphql", headers={"accept": accept})
            assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
            assert "graphiql" not in response.text.lower()


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


@pytest.mark.parametrize("name", [{"an": "object"}, ["a", "list"], 3])
async def test_an_operation_name_that_is_not_a_string_is_a_400_with_a_code(api, name):
    response = await api.client.post("/graphql", json={"query": "query A { __typename }", "operationName": name})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert "operationName" in error["message"] and "expected string" not in error["message"]


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
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag, no event to wait on
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
    if store.backend == "ladybug":  # where its reads ran: the loop's thread or reader threads
        reads = {name: after[name] - before[name] for name in ("inline_reads", "threaded_reads", "inline_overruns")}
        assert reads["inline_reads"] + reads["threaded_reads"] >= 1 and reads["inline_overruns"] >= 0


async def test_too_many_aliases_are_refused(api):
    aliased = "{ " + " ".join(f"a{i}: contexts {{ totalCount }}" for i in range(31)) + " }"
    error = await api.error(aliased)
    assert "aliases" in error["message"].lower()
    fine = "{ " + " ".join(f"a{i}: contexts {{ totalCount }}" for i in range(5)) + " }"
    assert (await api.data(fine))["a4"] == {"totalCount": 0}


# -- CORS (CONTEXTQL_CORS_*) ---------------------------------------------------------------------------------

APP_ORIGIN, OTHER_ORIGIN = "https://app.example.com", "https://evil.example.net"
QUERY = {"query": "{ contexts { totalCount } }"}


def _cors_client(store, workspace, **settings) -> httpx.AsyncClient:
    app = create_app(settings_for(workspace, **settings), store=store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _preflight(origin: str, headers: str = "content-type,authorization") -> dict:
    return {"origin": origin, "access-control-request-method": "POST", "access-control-request-headers": headers}


def _cors_headers(response: httpx.Response) -> dict:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_no_cors_setting_means_no_cors_headers(api):
    simple = await api.client.post("/graphql", json=QUERY, headers={"origin": APP_ORIGIN})
    assert simple.status_code == 200 and _cors_headers(simple) == {}
    preflight = await api.client.options("/graphql", headers=_preflight(APP_ORIGIN))
    assert preflight.status_code == 405 and _cors_headers(preflight) == {}


async def test_cors_preflight_and_simple_requests_for_allowed_and_refused_origins(store, workspace):
    async with _cors_client(store, workspace, cors_origins=f"{APP_ORIGIN}, http://localhost:3000") as client:
        allowed = await client.options("/graphql", headers=_preflight(APP_ORIGIN, "content-type,authorization,x-api-key"))
        assert allowed.status_code == 200
        assert _cors_headers(allowed) == {
            "access-control-allow-origin": APP_ORIGIN,
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": "content-type,authorization,x-api-key",
            "access-control-max-age": "600",
        }
        refused = await client.options("/graphql", headers=_preflight(OTHER_ORIGIN))
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers

        simple = await client.post("/graphql", json=QUERY, headers={"origin": "http://localhost:3000"})
        assert simple.status_code == 200 and simple.json()["data"] == {"contexts": {"totalCount": 0}}
        assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "origin" in simple.headers["vary"].lower()
        assert "access-control-allow-credentials" not in simple.headers
        # a refused origin's request still runs (CORS protects browsers' readers, not the server), unreadable
        other = await client.post("/graphql", json=QUERY, headers={"origin": OTHER_ORIGIN})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        same_origin = await client.post("/graphql", json=QUERY)  # no Origin: not a cross-origin request
        assert same_origin.status_code == 200 and _cors_headers(same_origin) == {}


async def test_cors_any_origin_and_credentials_and_max_age(store, workspace):
    async with _cors_client(store, workspace, cors_origins="*") as client:
        simple = await client.get("/graphql", params=QUERY, headers={"origin": OTHER_ORIGIN})
        assert simple.headers["access-control-allow-origin"] == "*"
    async with _cors_client(store, workspace, cors_origins=APP_ORIGIN, cors_allow_credentials=True,
                            cors_max_age=60) as client:
        preflight = await client.options("/graphql", headers=_preflight(APP_ORIGIN))
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-max-age"] == "60"
        simple = await client.post("/graphql", json=QUERY, headers={"origin": APP_ORIGIN})
        assert simple.headers["access-control-allow-origin"] == APP_ORIGIN
        assert simple.headers["access-control-allow-credentials"] == "true"


async def test_cors_preflight_needs_no_credentials_and_refusals_are_readable(store, workspace):
    async with _cors_client(store, workspace, cors_origins=APP_ORIGIN, auth_jwt_secret="s" * 32) as client:
        preflight = await client.options("/graphql", headers=_preflight(APP_ORIGIN))
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == APP_ORIGIN
        # the browser page can read why it was refused
        refused = await client.post("/graphql", json=QUERY, headers={"origin": APP_ORIGIN})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP_ORIGIN
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_incoherent_cors_settings_are_refused_at_start_up(tmp_path):
    for bad, words in [
        ({"cors_origins": "*", "cors_allow_credentials": True}, "CONTEXTQL_CORS_ALLOW_CREDENTIALS"),
        ({"cors_origins": "http://localhost:3000/"}, "no path or trailing slash"),
        ({"cors_origins": "*,https://a.example"}, "cannot be listed with others"),
    ]:
        with pytest.raises(ValidationError, match=words):
            Settings(_env_file=None, **bad)
    env = {**os.environ, "CONTEXTQL_CORS_ORIGINS": "*", "CONTEXTQL_CORS_ALLOW_CREDENTIALS": "true",
           "CONTEXTQL_DATA_DIR": str(tmp_path)}
    started = subprocess.run([sys.executable, "-m", "contextql.server.cli", "serve"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 2 and "Traceback" not in started.stderr
    assert "configuration error: CONTEXTQL_CORS_ORIGINS=* cannot be combined with CONTEXTQL_CORS_ALLOW_CREDENTIALS" \
        in started.stderr


# -- hostile nesting and misdirected subscriptions (never a 5xx) -------------------------------------

DEEP_REFUSAL = {"code": "BAD_USER_INPUT", "limit": 64}
MERGE = 'mutation($p: String!, $d: JSON!) { updateContext(path: $p, input: {mergeData: $d}) { version } }'


def nested(depth: int, leaf: object = 1) -> str:
    """`depth` levels of arrays and objects as JSON text (built as text: json.dumps would recurse)."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return opening + str(leaf) + closing


async def _post_raw(client: httpx.AsyncClient, body: str, accept: str = "application/json") -> httpx.Response:
    return await client.post("/graphql", content=body.encode(), headers={"content-type": "application/json",
                                                                          "accept": accept})


async def test_deeply_nested_json_gets_a_graphql_error_before_parsing(api):
    await api.data('mutation { createContext(input: {path: "/deep"}) { id } }')
    for accept in ("application/json", "application/graphql-response+json"):
        for depth in (10_000, 100, 65):
            bodies = [
                '{"query": "query($d: JSON) { __typename }", "variables": {"d": ' + nested(depth) + "}}",
                '{"query": ' + json.dumps(MERGE) + ', "variables": {"p": "/deep", "d": {"x": ' + nested(depth - 1) + "}}}",
                "[" + '{"query": "query($d: JSON) { __typename }", "variables": {"d": ' + nested(depth) + "}}]",
            ]
            for body in bodies:
                response = await _post_raw(api.client, body, accept)
                assert response.status_code == 400, (depth, response.text[:300])
                errors = response.json()["errors"]
                assert errors[0]["extensions"] == DEEP_REFUSAL and "64 levels" in errors[0]["message"]
                assert "data" not in response.json()
    # Just under the limit is fine, as a variable and after a merge.
    assert (await api.data(MERGE, p="/deep", d={"x": json.loads(nested(63))}))["updateContext"]["version"] == 2
    over = await api.error(MERGE, p="/deep", d={"x": {"y": json.loads(nested(63))}})
    assert over["extensions"] == DEEP_REFUSAL


def spread_chain(length: int) -> str:
    """A point read through `length` fragments, each spreading the next (flat text, deep spreads)."""
    chain = " ".join(f"fragment F{i} on Context {{ ...F{i + 1} }}" for i in range(length - 1))
    return '{ context(path: "/deep") { ...F0 } } ' + chain + f" fragment F{length - 1} on Context {{ path }}"


async def test_fragments_spreading_into_one_another_too_deeply_are_refused(api):
    """Flat text, deep spreads: the rules walk fragments recursively, and a chain of 300 ran out of Python's
    stack (an internal error). The chain is bounded like the text's nesting (schema/spreads.py)."""
    await api.data('mutation { createContext(input: {path: "/deep"}) { id } }')
    for accept in ("application/json", "application/graphql-response+json"):
        for length in (65, 300, 700):
            response = await _post_raw(api.client, json.dumps({"query": spread_chain(length)}), accept)
            errors = response.json()["errors"]
            if length == 700:  # past the document's token limit first
                assert errors[0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
                continue
            assert errors[0]["extensions"] == DEEP_REFUSAL, errors
            assert f"{length} levels deep, more than 64" in errors[0]["message"]
            assert response.json().get("data") is None
            assert response.status_code == (200 if accept == "application/json" else 400)
    assert await api.data(spread_chain(64)) == {"context": {"path": "/deep"}}


def spread_fanout(levels: int) -> str:
    """A point read through fragments that each spread the next twice: 2**levels fields written out."""
    fragments = " ".join(f"fragment F{i} on Context {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return '{ context(path: "/deep") { ...F0 } } ' + fragments + f" fragment F{levels} on Context {{ path }}"


async def test_fragments_expanding_past_the_token_limit_are_refused_before_validation(api):
    """Twenty levels of fragments spreading the next twice stand for a million fields in ~300 tokens:
    validating and costing them took 15 s of the event loop's thread, until the cost limit refused them. Now
    at once, as more fields than `max_tokens` (5,000) could write out; the cycle rule's message is kept."""
    await api.data('mutation { createContext(input: {path: "/deep"}) { id } }')
    for levels in (13, 20, 60):
        started = asyncio.get_running_loop().time()
        error = await api.error(spread_fanout(levels))
        assert asyncio.get_running_loop().time() - started < 5  # a bound for a hung loop, not a timing target
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": 5000}, error
        assert "more than 5000 fields" in error["message"]
    assert await api.data(spread_fanout(12)) == {"context": {"path": "/deep"}}  # 4,096 fields: still served
    streamed = await api.client.post("/graphql/stream", json={"query": spread_fanout(20)},
                                     headers={"accept": "text/event-stream"})  # SSE runs the same pipeline
    assert '"code":"BAD_USER_INPUT","limit":5000' in streamed.text
    cycle = await api.error('{ context(path: "/deep") { ...A } } fragment A on Context { path ...B } '
                            "fragment B on Context { title ...A }")
    assert cycle["message"] == "Cannot spread fragment 'A' within itself via 'B'."
    assert cycle["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_deeply_nested_literals_and_get_parameters_are_refused(api):
    for depth in (10_000, 64):
        literal = "[" * depth + "]" * depth
        for query in (f'mutation {{ createContext(input: {{path: "/x", data: {{a: {literal}}}}}) {{ id }} }}',
                      f"{{ contexts(filter: {{tags: {literal}}}) {{ totalCount }} }}"):
            response = await api.client.post("/graphql", json={"query": query})
            assert response.status_code == 400 and response.json()["errors"][0]["extensions"] == DEEP_REFUSAL
    got = await api.client.get("/graphql", params={"query": "query($d: JSON) { __typename }", "variables": '{"d": ' + nested(5000) + "}"})
    assert got.status_code == 400 and got.json()["errors"][0]["extensions"] == DEEP_REFUSAL
    assert await get_ok(api, '{ contexts(filter: {tags: ["a"]}) { totalCount } }')


async def get_ok(api, query: str) -> bool:
    return (await api.client.post("/graphql", json={"query": query})).status_code == 200


async def test_the_depth_limit_is_a_setting(store, workspace):
    app = create_app(settings_for(workspace, max_json_depth=8), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        query = 'mutation($d: JSON) { createContext(input: {path: "/s", data: $d}) { version } }'
        body = {"query": query, "variables": {"d": {"x": json.loads(nested(8))}}}
        refused = await client.post("/graphql", json=body)
        assert refused.status_code == 400 and refused.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "limit": 8}
        body["variables"]["d"] = {"x": json.loads(nested(7))}
        assert (await client.post("/graphql", json=body)).json() == {"data": {"createContext": {"version": 1}}}


async def test_a_subscription_over_plain_http_names_the_transports(api):
    for accept, status in (("application/json", 200), ("application/graphql-response+json", 400)):
        response = await api.client.post("/graphql", json={"query": "subscription { contextChanged { __typename } }"},
                                         headers={"accept": accept})
        assert response.status_code == status, response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "SUBSCRIPTION_TRANSPORT_REQUIRED"
        assert "/graphql/stream" in error["message"] and "graphql-transport-ws" in error["message"]
        got = await api.client.get("/graphql", params={"query": "subscription { contextChanged { __typename } }"},
                                   headers={"accept": accept})
        assert got.status_code == status and got.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_TRANSPORT_REQUIRED"


async def test_sse_and_websocket_refuse_deep_input_with_the_same_error(store, workspace):
    from tests.live.servers import CLIENT_TIMEOUT, live_server
    from tests.live.wsclient import WsClient

    deep_query = "subscription($d: JSON) { contextChanged(kinds: []) { __typename } }"
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        for depth in (10_000, 70):
            body = '{"query": ' + json.dumps(deep_query) + ', "variables": {"d": ' + nested(depth) + "}}"
            posted = await http.post("/graphql/stream", content=body, headers={"content-type": "application/json"})
            assert posted.status_code == 400 and posted.json()["errors"][0]["extensions"] == DEEP_REFUSAL
            got = await http.get("/graphql/stream", params={"query": deep_query, "variables": '{"d": ' + nested(min(depth, 3000)) + "}"})
            assert got.status_code == 400 and got.json()["errors"][0]["extensions"] == DEEP_REFUSAL
        literal = await http.post("/graphql/stream", json={"query": "{ contexts(filter: {tags: " + "[" * 500 + "]" * 500 + "}) { totalCount } }"})
        assert literal.status_code == 400 and literal.json()["errors"][0]["extensions"] == DEEP_REFUSAL

        async with WsClient(server.ws) as client:  # a value over the limit: an `error` for that operation
            await client.send({"id": "1", "type": "subscribe",
                               "payload": {"query": deep_query, "variables": {"d": json.loads(nested(70))}}})
            error = await client.receive()
            assert error["type"] == "error" and error["id"] == "1"
            assert error["payload"][0]["extensions"] == DEEP_REFUSAL
            op = await client.subscribe("subscription { contextChanged { __typename } }")  # the socket still serves
            await client.ready(server)
            await client.send({"id": op, "type": "complete"})
        async with WsClient(server.ws) as client:  # absurd nesting: the message is refused unread, 4400
            await client.socket.send('{"id": "1", "type": "subscribe", "payload": {"query": "subscription { contextChanged { __typename } }", '
                                     '"variables": {"d": ' + nested(10_000) + "}}}")
            with pytest.raises(ConnectionClosed) as closed:
                await client.receive()
            assert closed.value.rcvd.code == 4400 and "64 levels" in closed.value.rcvd.reason


async def test_forbidden_follows_one_status_rule_at_every_entry_point(store, workspace):
    """README "Security": 403 when the request is refused as a whole before any operation runs (a workspace
    that is not yours; a WebSocket closes with 4403); a root field the role does not allow is an error inside
    an executed result (the field is null, the error has its path): 200 with either media type, an SSE
    `next` event, a WebSocket `next` message."""
    from tests.auth.conftest import HS256_SETTINGS
    from tests.auth.tokens import hs256
    from tests.live.servers import CLIENT_TIMEOUT, live_server
    from tests.live.wsclient import WsClient

    viewer = {"authorization": "Bearer " + hs256(sub="vi", roles=["viewer"], workspaces=[workspace])}
    stranger = {"authorization": "Bearer " + hs256(sub="st", roles=["admin"], workspaces=[workspace + "-other"]),
                "x-contextql-workspace": workspace}
    audit = "{ auditLog { edges { node { at } } } }"
    create = 'mutation { createContext(input: {path: "/f"}) { id } }'
    async with live_server(store, workspace, **HS256_SETTINGS) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        for accept in ("application/json", "application/graphql-response+json"):
            for query in (audit, create):
                denied = await http.post("/graphql", json={"query": query}, headers={**viewer, "accept": accept})
                assert denied.status_code == 200, denied.text
                error = denied.json()["errors"][0]
                assert error["extensions"]["code"] == "FORBIDDEN" and error["path"]
                door = await http.post("/graphql", json={"query": query}, headers={**stranger, "accept": accept})
                assert door.status_code == 403 and door.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            got = await http.get("/graphql", params={"query": audit}, headers={**viewer, "accept": accept})
            assert got.status_code == 200 and got.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert (await http.get("/graphql", params={"query": audit}, headers={**stranger, "accept": accept})).status_code == 403
        assert (await http.post("/graphql/stream", json={"query": audit}, headers=stranger)).status_code == 403
        async with http.stream("POST", "/graphql/stream", json={"query": audit}, headers=viewer) as stream:
            assert stream.status_code == 200
            text = "".join([chunk async for chunk in stream.aiter_text()])
        assert '"FORBIDDEN"' in text and "event: complete" in text

        async with WsClient(server.ws, payload={"Authorization": viewer["authorization"]}) as client:
            op = await client.subscribe(audit)
            result = await client.next(op)
            assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN" and result["errors"][0]["path"] == ["auditLog"]
        with pytest.raises(Exception) as closed:
            async with WsClient(server.ws, payload={"Authorization": stranger["authorization"], "workspace": workspace}):
                pass
        assert "4403" in str(closed.value)


async def test_a_bare_document_body_and_every_refusal_is_graphql_shaped(api):
    bare = await api.client.post("/graphql", content="{ contexts { totalCount } }",
                                 headers={"content-type": "application/graphql"})
    assert bare.status_code == 200 and bare.json() == {"data": {"contexts": {"totalCount": 0}}}
    for response in (
        await api.client.post("/graphql", content="x", headers={"content-type": "text/plain"}),
        await api.client.get("/graphql", params={"query": 'mutation { createContext(input: {path: "/x"}) { id } }'}),
        await api.client.post("/graphql", json={"query": "query A { __typename }", "operationName": "B"}),
    ):
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith("application/"), response.headers
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] and error["message"]


TWO_OPERATIONS = ('mutation Make { createContext(input: {path: "/made"}) { id } } '
                  "query Count { contexts { totalCount } }")


async def test_several_operations_without_a_name_run_none(api):
    """GraphQL's GetOperation asks for operationName when a document holds several operations; Strawberry ran
    the first, here a mutation the client may never have meant to send."""
    for accept in ("application/json", "application/graphql-response+json"):
        response = await _post_raw(api.client, json.dumps({"query": TWO_OPERATIONS}), accept)
        body = response.json()
        assert body.get("data") is None and response.status_code == (200 if accept == "application/json" else 400)
        assert body["errors"] == [{"message": "Must provide operation name if query contains multiple operations.",
                                   "extensions": {"code": "BAD_REQUEST"}}]
    assert await api.data("{ contexts { totalCount } }") == {"contexts": {"totalCount": 0}}
    named = await api.client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "Count"})
    assert named.json() == {"data": {"contexts": {"totalCount": 0}}}
    unknown = await api.client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "Nope"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await api.data("query Only { contexts { totalCount } }") == {"contexts": {"totalCount": 0}}


async def test_several_operations_without_a_name_over_sse_and_websocket(store, workspace):
    from tests.live.servers import CLIENT_TIMEOUT, live_server
    from tests.live.wsclient import WsClient

    two = "subscription A { contextChanged { __typename } } subscription B { contextChanged { kind: __typename } }"
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        posted = await http.post("/graphql/stream", json={"query": two})
        assert "Must provide operation name" in posted.text and "BAD_REQUEST" in posted.text
        async with WsClient(server.ws) as client:
            await client.send({"id": "1", "type": "subscribe", "payload": {"query": two}})
            error = await client.receive()
            assert error["type"] == "error" and error["id"] == "1"
            assert error["payload"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_a_document_past_graphql_cores_validation_budget_gets_a_message_that_says_what_to_change(api):
    """graphql-core stops comparing same-named fields past its work budget and said only "Validation aborted."."""
    error = await api.error("{ " + "__typename " * 2400 + "}")
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"].startswith("The GraphQL document is too costly to validate")
    assert "split the operation" in error["message"]
    many = await api.run("{ " + " ".join(f"nope{i}" for i in range(150)) + " }")
    assert len(many["errors"]) == 101 and many["errors"][-1]["message"].startswith("Too many validation errors")
