"""Every field of every subscription event, selected by a real subscriber over graphql-transport-ws: a field
whose declared type does not match what the event carries (toolVersion was `Int` for "1.0.0") fails here."""

from __future__ import annotations

import asyncio

import httpx
from contextql.graph.events import IndexDetail
from graphql import GraphQLObjectType, GraphQLUnionType, get_named_type

from contextql.graph.index import IndexWorker
from contextql.schema import build_schema
from tests.api.test_knowledge import EXECUTE, IN, OUT, REGISTER, tool_server  # noqa: F401 - real tool server
from tests.live.servers import CLIENT_TIMEOUT, live_server
from tests.live.wsclient import WsClient

SCHEMA = build_schema()._schema


def every_field(type_, depth: int = 0) -> str:
    """A selection of every field of `type_` (objects below the event: their scalar fields)."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLUnionType):
        return "{ __typename " + " ".join(f"... on {m.name} {every_field(m, depth)}" for m in named.types) + " }"
    if not isinstance(named, GraphQLObjectType):
        return ""
    parts = []
    for name, field in named.fields.items():
        if any(arg.type.__class__.__name__ == "GraphQLNonNull" for arg in field.args.values()):
            continue
        child = get_named_type(field.type)
        if isinstance(child, (GraphQLObjectType, GraphQLUnionType)):
            if depth == 0:
                parts.append(f"{name} {every_field(child, depth + 1)}")
        else:
            parts.append(name)
    return "{ " + " ".join(parts or ["__typename"]) + " }"


def subscription(field: str) -> str:
    return f"subscription {{ {field} {every_field(SCHEMA.subscription_type.fields[field].type)} }}"


async def test_a_subscriber_selecting_every_field_gets_every_event(store, workspace, tool_server):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        async def run(query: str, **variables) -> dict:
            body = (await http.post("/graphql", json={"query": query, "variables": variables})).json()
            assert not body.get("errors"), body
            return body["data"]

        async with WsClient(server.ws) as client:
            ops = {name: await client.subscribe(subscription(name)) for name in SCHEMA.subscription_type.fields}
            for _ in range(500):  # subscribe is asynchronous: wait until the bus holds all four
                if len(server.bus.subscriptions) >= len(ops):
                    break
                await asyncio.sleep(0.01)
            created = await run('mutation { createContext(input: {path: "/a", kind: "note", data: {x: 1}}) { id } }')
            await run('mutation { createContext(input: {path: "/b"}) { id } }')
            await run('mutation { relate(from: "/a", to: {path: "/b"}, type: "CITES", properties: {since: 2024}) { created } }')
            await run(REGISTER, name="double", version="1.0.0", url=tool_server + "/ok", **{"in": IN, "out": OUT})
            await run(EXECUTE, tool="double", input={"q": 2}, ctx="/a")
            record = (await store.get_by_paths(workspace, ["/a"]))["/a"]
            await server.bus.publish([IndexWorker._event(workspace, "failed", created["createContext"]["id"], record,
                                                         IndexDetail(created["createContext"]["id"], 2,
                                                                     1_700_000_000_000_000, "down"))])
            seen: dict[str, list[dict]] = {name: [] for name in ops}
            names = {op: name for name, op in ops.items()}
            while not all(seen.values()) or len(seen["toolExecutions"]) < 2:
                message = await client.receive()
                assert message["type"] == "next", message
                assert not message["payload"].get("errors"), message
                seen[names[message["id"]]].append(message["payload"]["data"])
    tool = [d["toolExecutions"] for d in seen["toolExecutions"]]
    assert {t["operation"] for t in tool} == {"STARTED", "FINISHED"}
    assert all(t["toolVersion"] == "1.0.0" and t["tool"] == "double" for t in tool)
    relationship = seen["relationshipChanged"][0]["relationshipChanged"]
    assert relationship["type"] == "CITES" and relationship["from"]["path"] == "/a" and relationship["to"]["path"] == "/b"
    assert seen["indexChanged"][0]["indexChanged"]["nextRetryAt"].startswith("2023-11-14")
    assert seen["contextChanged"][0]["contextChanged"]["context"]["path"] == "/a"
