"""Neo4j only: the driver's connections read and write without timeouts of the driver's own; every call is
bounded by the store's operation timeout instead, also when the server stops answering. Bookmarks only
where the driver routes."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlparse

import pytest

from contextql.graph.errors import StoreUnavailableError
from contextql.graph.neo4j import Neo4jStore

from tests.contract.factories import context, snapshot


class FreezingRelay:
    """A TCP relay to Neo4j that, once frozen, keeps every connection open and forwards nothing:
    a server (or a network) that stops answering without closing anything."""

    def __init__(self, target: str) -> None:
        address = urlparse(target)
        self._target = (address.hostname or "127.0.0.1", address.port or 7687)
        self.frozen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"bolt://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._tasks.add(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                if self.frozen.is_set():
                    await asyncio.Event().wait()  # hold the connection, forward nothing
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()


async def test_pooled_connections_have_no_driver_socket_timeouts(neo4j_store):
    """The store's hook still works with the pinned driver: without it, every socket read and flush pays
    for a timed `wait_for` (bench/results/profile-2026-12-02-read-timeout.md, -12-03-write-timeout.md)."""
    await asyncio.gather(*(neo4j_store.get_by_paths(f"rt-{uuid.uuid4().hex[:8]}", ["/x"]) for _ in range(4)))
    pooled = [c for connections in neo4j_store._driver._pool.connections.values() for c in connections]
    assert pooled and all(c.socket.get_read_timeout() is None for c in pooled)
    assert all(c.socket.get_write_timeout() is None for c in pooled)


@pytest.mark.parametrize("call", ["read", "revision"])
async def test_a_server_that_stops_answering_fails_the_call_within_its_timeout(neo4j_store, call):
    relay = FreezingRelay(neo4j_store.uri)
    async with relay as uri:
        store = Neo4jStore(uri=uri, user="neo4j", password="", database="neo4j", timeout=1.0)
        await store.open()
        workspace = f"rt-{uuid.uuid4().hex[:8]}"
        try:
            assert await store.get_by_paths(workspace, ["/x"]) == {}
            relay.frozen.set()
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="did not answer within 1 s"):
                if call == "read":
                    await store.get_by_paths(workspace, ["/x"])
                else:
                    await store.revise_context(workspace, "no-such-id", lambda head: None)
            assert time.monotonic() - started < 3.0
        finally:
            await asyncio.wait_for(store.close(), 5)


async def test_bookmarks_only_where_the_driver_routes(neo4j_store):
    """`bolt://` is one server, which sees every commit at once: no bookmark bookkeeping per statement.
    Over `neo4j://` (routing, here a cluster of one) a read after a write goes through the shared
    bookmark manager, and sees the write."""
    assert neo4j_store._bookmarks is None
    routed = Neo4jStore(uri=neo4j_store.uri.replace("bolt://", "neo4j://"), user="neo4j", password="",
                        database="neo4j")
    await routed.open()
    try:
        assert routed._bookmarks is not None
        workspace = f"bm-{uuid.uuid4().hex[:8]}"
        record = context(workspace, "/a")
        await routed.create_contexts([record], [snapshot(record)])
        assert (await routed.get_by_paths(workspace, ["/a"]))["/a"].id == record.id
        assert (await neo4j_store.get_by_paths(workspace, ["/a"]))["/a"].id == record.id
    finally:
        await routed.close()
