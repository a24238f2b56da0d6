"""Subscriptions over a live server (uvicorn, real store of each backend): protocols, filters, scoping."""

from __future__ import annotations

import asyncio
import json

import httpx

from contextql.graph.events import ChangeEvent, ContextDetail

from .servers import CLIENT_TIMEOUT, live_server
from .wsclient import LEGACY_WS, WsClient

CHANGES = """subscription($prefix: String!, $kinds: [String!], $ops: [ContextOperation!]) {
  contextChanged(pathPrefix: $prefix, kinds: $kinds, operations: $ops) {
    __typename
    ... on ContextChangeEvent { operation id path fromPath kind version changed affectedCount principal { id }
                                context { path title version parent { path } } }
    ... on EventsDropped { count message }
  }
}"""

CREATE = "mutation($i: CreateContextInput!) { createContext(input: $i, createParents: true) { id version } }"
UPDATE = "mutation($p: String!, $t: String!) { updateContext(path: $p, input: {title: $t}) { version } }"
MOVE = "mutation($p: String!, $to: String!) { moveContext(path: $p, to: $to) { movedCount } }"
DELETE = "mutation($p: String!) { deleteContext(path: $p, recursive: true) { deletedCount } }"


async def gql(http: httpx.AsyncClient, query: str, **variables) -> dict:
    body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
    assert not body.get("errors"), body
    return body["data"]


async def test_context_changes_arrive_in_order_with_the_live_context(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async with WsClient(server.ws) as ws:
            op = await ws.subscribe(CHANGES, prefix="/acme", kinds=None, ops=None)
            await ws.ready(server)
            await gql(http, CREATE, i={"path": "/acme/alpha", "kind": "project", "title": "A"})
            await gql(http, CREATE, i={"path": "/elsewhere"})  # outside the prefix: never seen
            await gql(http, UPDATE, p="/acme/alpha", t="B")
            await gql(http, MOVE, p="/acme/alpha", to="/acme/beta")
            await gql(http, DELETE, p="/acme")

            seen = [(await ws.next(op))["data"]["contextChanged"] for _ in range(5)]
            assert [(e["operation"], e["path"]) for e in seen] == [
                ("CREATED", "/acme"), ("CREATED", "/acme/alpha"), ("UPDATED", "/acme/alpha"),
                ("MOVED", "/acme/beta"), ("DELETED", "/acme"),
            ]
            created, _, updated, moved, deleted = seen[1], seen[0], seen[2], seen[3], seen[4]
            assert created["kind"] == "project" and created["version"] == 1 and created["principal"]["id"] == "anonymous"
            assert updated["changed"] == ["title"] and updated["version"] == 2
            # the live context: the state now, through normal Context fields (it has moved since)
            assert updated["context"] is None or updated["context"]["path"] in ("/acme/alpha", "/acme/beta")
            assert moved["fromPath"] == "/acme/alpha" and moved["affectedCount"] == 1
            assert deleted["affectedCount"] == 2 and deleted["context"] is None


async def test_live_context_field_reads_current_state(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async with WsClient(server.ws) as ws:
            op = await ws.subscribe(CHANGES, prefix="/", kinds=["note"], ops=["UPDATED"])
            await ws.ready(server)
            await gql(http, CREATE, i={"path": "/n/one", "kind": "note", "title": "first"})
            await gql(http, UPDATE, p="/n/one", t="second")
            event = (await ws.next(op))["data"]["contextChanged"]
            assert event["operation"] == "UPDATED"
            assert event["context"] == {"path": "/n/one", "title": "second", "version": 2, "parent": {"path": "/n"}}
            await gql(http, UPDATE, p="/n/one", t="third")
            event = (await ws.next(op))["data"]["contextChanged"]
            assert event["context"]["title"] == "third"  # not a cached copy from the first event


async def test_legacy_graphql_ws_protocol(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async with WsClient(server.ws, protocol=LEGACY_WS) as ws:
            op = await ws.subscribe(CHANGES, prefix="/legacy", kinds=None, ops=None)
            await ws.ready(server)
            await gql(http, CREATE, i={"path": "/legacy"})
            event = (await ws.next(op))["data"]["contextChanged"]
            assert (event["operation"], event["path"]) == ("CREATED", "/legacy")


async def test_no_event_of_another_workspace_reaches_a_subscriber(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async with WsClient(server.ws) as ws:
            op = await ws.subscribe(CHANGES, prefix="/", kinds=None, ops=None)
            await ws.ready(server)
            foreign = ChangeEvent(workspace="someone-else", topic="context", operation="created", key="x", at=1,
                                  principal="eve", path="/secret", kind="note", version=1, detail=ContextDetail(id="x"))
            await server.bus.publish([foreign])
            await gql(http, CREATE, i={"path": "/mine"})
            event = (await ws.next(op))["data"]["contextChanged"]
            assert event["path"] == "/mine"


async def test_a_full_buffer_yields_an_explicit_dropped_message(store, workspace):
    async with live_server(store, workspace, subscription_buffer=3) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async with WsClient(server.ws) as ws:
            op = await ws.subscribe(CHANGES, prefix="/", kinds=None, ops=None)
            await ws.ready(server)
            burst = [ChangeEvent(workspace=workspace, topic="context", operation="updated", key="k", at=i,
                                 principal="p", path=f"/burst/{i}", kind="note", version=i, detail=ContextDetail(id="k"))
                     for i in range(1, 51)]
            await server.bus.publish(burst)  # one synchronous burst: the subscriber cannot keep up
            paths = [(await ws.next(op))["data"]["contextChanged"].get("path") for _ in range(3)]
            assert paths == ["/burst/1", "/burst/2", "/burst/3"]
            dropped = (await ws.next(op))["data"]["contextChanged"]
            assert dropped["__typename"] == "EventsDropped" and dropped["count"] == 47
            assert "refetch" in dropped["message"]
            await gql(http, CREATE, i={"path": "/after"})  # and it is live again
            assert (await ws.next(op))["data"]["contextChanged"]["path"] == "/after"


async def test_relationship_and_tool_execution_subscriptions(store, workspace):
    """Driven by the real `relate` and `executeTool` mutations (their events come from issue 5's resolvers)."""
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        await gql(http, CREATE, i={"path": "/g/a", "data": {"db": {"host": "h", "port": 1}}})
        await gql(http, CREATE, i={"path": "/g/b"})
        await gql(http, CREATE, i={"path": "/other"})
        async with WsClient(server.ws) as ws:
            rel = await ws.subscribe("""subscription { relationshipChanged(pathPrefix: "/g", types: ["DEPENDS_ON"]) {
                ... on RelationshipChangeEvent { operation type targetKind from { path } to { path } principal { id } } } }""")
            exe = await ws.subscribe("""subscription { toolExecutions(tool: "builtin.extract", status: [SUCCEEDED]) {
                ... on ToolExecutionEvent { operation tool status context { path } } } }""")
            await _wait_for_subscriptions(server, 2)
            await gql(http, 'mutation { relate(from: "/other", to: {path: "/g/b"}, type: "DEPENDS_ON") { created } }')
            await gql(http, 'mutation { relate(from: "/g/a", to: {path: "/g/b"}, type: "CITES") { created } }')
            await gql(http, 'mutation { relate(from: "/g/a", to: {path: "/g/b"}, type: "DEPENDS_ON") { created } }')
            await gql(http, """mutation { executeTool(tool: "builtin.extract", contextPath: "/g/a",
                                input: {path: "/g/a", expression: "db.host"}) { status } }""")
            got: dict[str, list] = {rel: [], exe: []}
            while len(got[rel]) < 2 or len(got[exe]) < 1:
                message = await ws.receive()
                got[message["id"]].append(next(iter(message["payload"]["data"].values())))
        # /other -> /g/b has an end under /g; the CITES edge is filtered out by type
        assert got[rel] == [
            {"operation": "ADDED", "type": "DEPENDS_ON", "targetKind": "context", "from": {"path": "/other"},
             "to": {"path": "/g/b"}, "principal": {"id": "anonymous"}},
            {"operation": "ADDED", "type": "DEPENDS_ON", "targetKind": "context", "from": {"path": "/g/a"},
             "to": {"path": "/g/b"}, "principal": {"id": "anonymous"}},
        ]
        assert got[exe] == [{"operation": "FINISHED", "tool": "builtin.extract", "status": "SUCCEEDED", "context": {"path": "/g/a"}}]


async def test_bad_arguments_are_refused_with_a_code(store, workspace):
    async with live_server(store, workspace) as server:
        async with WsClient(server.ws) as ws:
            op = await ws.subscribe(CHANGES, prefix="/a/../b", kinds=None, ops=None)
            message = await ws.receive()
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", message
            assert message["id"] == op


async def test_graphql_over_server_sent_events(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        request = {"query": CHANGES, "variables": {"prefix": "/sse"}}
        async with http.stream("POST", "/graphql/stream", json=request, headers={"accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert await anext(lines) == ": connected"
            await _wait_for_subscriptions(server, 1)
            await gql(http, CREATE, i={"path": "/sse/x"})
            events = await _sse_events(lines, 2)
        assert [e["event"] for e in events] == ["next", "next"]
        assert [e["data"]["data"]["contextChanged"]["path"] for e in events] == ["/sse", "/sse/x"]

        # queries work too (one result, then complete); mutations are refused over GET
        response = await http.get("/graphql/stream", params={"query": '{ context(path: "/sse/x") { path } }'})
        events = _parse_sse(response.text)
        assert events == [{"event": "next", "data": {"data": {"context": {"path": "/sse/x"}}}}, {"event": "complete", "data": None}]
        response = await http.get("/graphql/stream", params={"query": 'mutation { deleteContext(path: "/sse") { path } }'})
        assert response.status_code == 405
        response = await http.post("/graphql/stream", content=b"not json")
        assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graceful_shutdown_completes_open_subscriptions(store, workspace):
    server_cm = live_server(store, workspace)
    server = await server_cm.__aenter__()
    stopped = False
    try:
        async with WsClient(server.ws) as ws, httpx.AsyncClient(base_url=server.http, timeout=20) as http:
            op = await ws.subscribe(CHANGES, prefix="/", kinds=None, ops=None)
            async with http.stream("POST", "/graphql/stream", json={"query": CHANGES, "variables": {"prefix": "/"}}) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == ": connected"
                await _wait_for_subscriptions(server, 2)
                stopping = asyncio.create_task(server_cm.__aexit__(None, None, None))
                stopped = True
                assert await ws.receive() == {"id": op, "type": "complete"}
                assert await _sse_events(lines, 1) == [{"event": "complete", "data": None}]
                await asyncio.wait_for(stopping, 30)
    finally:
        if not stopped:
            await server_cm.__aexit__(None, None, None)


async def _wait_for_subscriptions(server, count: int) -> None:
    for _ in range(500):
        if len(server.bus.subscriptions) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("subscriptions never reached the bus")


async def _sse_events(lines, count: int) -> list[dict]:
    events, block = [], []
    while len(events) < count:
        line = await asyncio.wait_for(anext(lines), 10)
        if line:
            block.append(line)
            continue
        parsed = _parse_sse("\n".join(block) + "\n\n")
        block = []
        events.extend(parsed)
    return events


def _parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.splitlines()
                      if line and not line.startswith(":"))
        if "event" in fields:
            events.append({"event": fields["event"], "data": json.loads(fields["data"]) if fields.get("data") else None})
    return events
