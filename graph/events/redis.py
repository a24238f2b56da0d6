"""Redis pub/sub event bus: subscribers on any API instance see every instance's events.

Every event goes through Redis, also to this instance's own subscribers, so all
subscribers see one order. Publishing hands events to one sender task that writes
them, pipelined, over one connection: Redis keeps the order of one connection's
messages on a channel, so events of one instance keep their publication order
(hence their order per key). A lost Redis connection is reconnected; subscribers
are then told that events were dropped, since some may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .bus import EventBus
from .event import ChangeEvent

logger = logging.getLogger("contextql.events.redis")


class RedisBus(EventBus):
    def __init__(
        self, url: str, channel: str = "contextql:events", buffer_size: int = 1000, outbox_size: int = 100_000
    ) -> None:
        super().__init__(buffer_size)
        self.url, self.channel = url, channel
        self.client: aioredis.Redis | None = None
        self.outbox: asyncio.Queue[ChangeEvent] = asyncio.Queue(maxsize=outbox_size)
        self._tasks: list[asyncio.Task] = []
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self.client = aioredis.Redis.from_url(self.url)
        await self.client.ping()  # fail at start-up, not at the first write, if Redis is unreachable
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._send())]
        # Events published right after start must reach this instance too.
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def ping(self) -> None:
        if self.client is None:
            raise ConnectionError("the Redis bus is not started")
        await self.client.ping()

    async def stop(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.outbox.join(), timeout=5)  # flush what committed writers handed over
        for subscription in list(self.subscriptions):
            subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.client is not None:
            await self.client.aclose()

    async def publish(self, events: list[ChangeEvent]) -> None:
        for event in events:
            try:
                self.outbox.put_nowait(event)
            except asyncio.QueueFull:  # Redis is far behind: never block the writer; subscribers learn of it
                logger.error("event outbox full; dropping %s/%s %s", event.topic, event.operation, event.key)
                for subscription in list(self.subscriptions):
                    subscription.lose()

    async def _send(self) -> None:
        assert self.client is not None
        while True:
            batch = [await self.outbox.get()]
            while not self.outbox.empty() and len(batch) < 500:
                batch.append(self.outbox.get_nowait())
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not publish %d events to Redis; subscribers are told they were dropped", len(batch))
                for subscription in list(self.subscriptions):
                    subscription.lose(len(batch))
            finally:
                for _ in batch:
                    self.outbox.task_done()

    async def _write(self, batch: list[ChangeEvent]) -> None:
        assert self.client is not None
        for attempt in range(3):
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for event in batch:
                        pipe.publish(self.channel, event.to_json())
                    await pipe.execute()
                return
            except (RedisError, OSError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _receive(self) -> None:
        assert self.client is not None
        first = True
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._confirmed(pubsub)
                if not first:  # events published while we were away are gone
                    for subscription in list(self.subscriptions):
                        subscription.lose()
                first = False
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = ChangeEvent.from_json(message["data"])
                    except (ValueError, TypeError):
                        logger.error("ignoring a malformed event on %s", self.channel)
                        continue
                    self.deliver(event)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError):
                logger.warning("lost the Redis event subscription; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _confirmed(self, pubsub) -> None:
        """Wait for Redis to confirm the subscription: only then are later publications seen."""
        while True:
            message = await pubsub.get_message(timeout=5)
            if message is None:
                raise RedisError("Redis did not confirm the event subscription in time")
            if message.get("type") == "subscribe":
                return
