"""WebSocket subscriptions authenticate in `connection_init` as HTTP does; events stay in the workspace;
an expired token ends the socket. Over a live uvicorn server and the real store of each backend."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.live.servers import CLIENT_TIMEOUT, live_server
from tests.live.wsclient import LEGACY_WS, TRANSPORT_WS, WsClient

from .conftest import HS256_SETTINGS
from .tokens import hs256, unsigned

CHANGES = """subscription { contextChanged(pathPrefix: "/") {
  ... on ContextChangeEvent { operation path } } }"""
CREATE = 'mutation($p: String!) { createContext(input: {path: $p}) { id } }'


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


async def refused(url: str, payload: dict, protocol: str = TRANSPORT_WS) -> int:
    """Close code the server answers a `connection_init` with (it must not acknowledge)."""
    async with connect(url, subprotocols=[protocol]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                assert message["type"] not in ("connection_ack",), message
                if message["type"] == "connection_error":  # legacy graphql-ws
                    return 4403
        except ConnectionClosed as closed:
            return closed.rcvd.code


async def test_bad_credentials_are_refused_in_connection_init(store, workspace):
    async with live_server(store, workspace, **HS256_SETTINGS) as server:
        bad = [
            {},
            bearer(hs256("another-secret-of-at-least-32-bytes!!", workspaces=[workspace])),
            bearer(unsigned(workspaces=[workspace])),
            bearer(hs256(workspaces=[workspace], exp=int(time.time()) - 60, iat=int(time.time()) - 600)),
            bearer(hs256(workspaces=[workspace], aud="other")),
            bearer(hs256(workspaces=[workspace], iss="https://evil.test")),
            # claims stated by the client are never trusted
            {"principal": {"id": "root", "roles": ["admin"]}, "roles": ["admin"], "workspace": workspace},
            {**bearer(hs256(workspaces=[workspace])), "workspace": workspace + "-other"},
        ]
        for payload in bad:
            assert await refused(server.ws, payload) == 4403, payload
        assert await refused(server.ws, {}, LEGACY_WS) == 4403


async def test_revoked_and_rotated_out_keys_are_refused_over_websocket(store, workspace):
    admin = hs256(roles=["admin"], workspaces=[workspace])
    async with live_server(store, workspace, **HS256_SETTINGS) as server, \
            httpx.AsyncClient(base_url=server.http, headers=bearer(admin)) as http:
        create = 'mutation { createApiKey(name: "ws", roles: ["viewer"]) { secret apiKey { id } } }'
        revoked = (await http.post("/graphql", json={"query": create})).json()["data"]["createApiKey"]
        rotated = (await http.post("/graphql", json={"query": create})).json()["data"]["createApiKey"]
        await http.post("/graphql", json={"query": 'mutation($i: ID!) { revokeApiKey(id: $i) { id } }',
                                          "variables": {"i": revoked["apiKey"]["id"]}})
        new = (await http.post("/graphql", json={
            "query": 'mutation($i: ID!) { rotateApiKey(id: $i, overlapSeconds: 0) { secret } }',
            "variables": {"i": rotated["apiKey"]["id"]}})).json()["data"]["rotateApiKey"]
        for secret in (revoked["secret"], rotated["secret"]):
            assert await refused(server.ws, bearer(secret)) == 4403
        async with WsClient(server.ws, payload=bearer(new["secret"])) as ws:
            await ws.subscribe(CHANGES)


async def test_subscribers_see_only_their_workspace_and_need_a_role(store, workspace):
    other = workspace + "-other"
    async with live_server(store, workspace, **HS256_SETTINGS) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        mine = bearer(hs256(sub="ana", roles=["viewer"], workspaces=[workspace]))
        async with WsClient(server.ws, payload=mine) as ws:
            op = await ws.subscribe(CHANGES)
            await asyncio.sleep(0.3)
            writer_elsewhere = bearer(hs256(sub="bo", roles=["editor"], workspaces=[other]))
            writer_here = bearer(hs256(sub="cy", roles=["editor"], workspaces=[workspace]))
            r1 = await http.post("/graphql", json={"query": CREATE, "variables": {"p": "/theirs"}}, headers=writer_elsewhere)
            r2 = await http.post("/graphql", json={"query": CREATE, "variables": {"p": "/mine"}}, headers=writer_here)
            assert "errors" not in r1.json() and "errors" not in r2.json()
            event = await ws.next(op)
            assert event["data"]["contextChanged"] == {"operation": "CREATED", "path": "/mine"}
        # a principal without a role in the workspace gets FORBIDDEN, not events
        no_role = bearer(hs256(sub="dee", roles=[], workspaces=[workspace]))
        async with WsClient(server.ws, payload=no_role) as ws:
            op = await ws.subscribe(CHANGES)
            message = await ws.receive()
            assert message["type"] in ("error", "next"), message
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_expired_token_ends_the_subscription(store, workspace):
    async with live_server(store, workspace, **HS256_SETTINGS) as server:
        short = bearer(hs256(roles=["viewer"], workspaces=[workspace], exp=int(time.time()) + 2))
        async with WsClient(server.ws, payload=short) as ws:
            await ws.subscribe(CHANGES)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.socket.recv(), 10)
            assert closed.value.rcvd.code == 4401


async def test_sse_subscriptions_need_the_same_credential(store, workspace):
    async with live_server(store, workspace, **HS256_SETTINGS) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        body = {"query": CHANGES}
        refused = await http.post("/graphql/stream", json=body, headers={"accept": "text/event-stream"})
        assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        token = bearer(hs256(roles=["viewer"], workspaces=[workspace]))
        async with http.stream("POST", "/graphql/stream", json=body,
                               headers={"accept": "text/event-stream", **token}) as accepted:
            assert accepted.status_code == 200


async def test_an_expired_token_ends_an_sse_subscription_at_its_next_event(store, workspace):
    async with live_server(store, workspace, **HS256_SETTINGS) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        short = bearer(hs256(roles=["viewer"], workspaces=[workspace], exp=int(time.time()) + 2))
        writer = bearer(hs256(sub="cy", roles=["editor"], workspaces=[workspace]))
        async with http.stream("POST", "/graphql/stream", json={"query": CHANGES},
                               headers={"accept": "text/event-stream", **short}) as events:
            await asyncio.sleep(2.5)
            await http.post("/graphql", json={"query": CREATE, "variables": {"p": "/late"}}, headers=writer)
            received = ""
            async for chunk in events.aiter_text():
                received += chunk
                if "complete" in received:
                    break
            assert "UNAUTHENTICATED" in received and "/late" not in received
