"""A minimal graphql-transport-ws / graphql-ws client over `websockets`, for protocol-level assertions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class WsClient:
    def __init__(self, url: str, protocol: str = TRANSPORT_WS, payload: dict | None = None, **options: Any) -> None:
        self.url, self.protocol, self.payload, self.options = url, protocol, payload or {}, options
        self.socket = None
        self.next_id = 0

    async def __aenter__(self) -> WsClient:
        self.socket = await connect(self.url, subprotocols=[self.protocol], **self.options)
        await self.send({"type": "connection_init", "payload": self.payload})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack
        return self

    async def __aexit__(self, *exc) -> None:
        await self.socket.close()

    async def send(self, message: dict) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, timeout: float = 10) -> dict:
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if message["type"] not in ("ka", "ping", "pong"):
                return message

    async def subscribe(self, query: str, **variables: Any) -> str:
        self.next_id += 1
        op_id = str(self.next_id)
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send({"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}})
        return op_id

    async def next(self, op_id: str, timeout: float = 10) -> dict:
        """The next result of `op_id` (its `payload`): data and/or errors."""
        message = await self.receive(timeout)
        assert message.get("id") == op_id, message
        assert message["type"] in ("next", "data"), message
        return message["payload"]

    async def ready(self, server, workspace_probe: str | None = None) -> None:
        """Wait until the server holds a subscription for this client (subscribe is asynchronous)."""
        for _ in range(500):
            if server.bus.subscriptions:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the subscription never reached the bus")
