"""The event-bus interface and the per-subscriber buffer every transport fans out into."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ..telemetry import EVENTS_DROPPED, SUBSCRIPTIONS_OPEN
from .event import ChangeEvent

logger = logging.getLogger("contextql.events")

Predicate = Callable[[ChangeEvent], bool]


@dataclass(frozen=True, slots=True)
class Dropped:
    """Stands in a subscriber's stream for `count` events it lost: its view is stale, refetch."""

    count: int


class Subscription:
    """One subscriber's bounded buffer.

    Offering never blocks and never waits for the subscriber: once the buffer is full,
    further events are counted instead of kept until the subscriber has read what was
    buffered; it then receives one `Dropped(count)` and live events again. Events of
    another workspace are never accepted.
    """

    def __init__(self, workspace: str, accepts: Predicate, size: int) -> None:
        self.workspace, self.accepts, self.size = workspace, accepts, max(1, size)
        self.buffer: deque[ChangeEvent] = deque()
        self.dropped = 0
        self.closed = False
        self._wake = asyncio.Event()

    def offer(self, event: ChangeEvent) -> None:
        if self.closed or event.workspace != self.workspace:
            return
        try:
            if not self.accepts(event):
                return
        except Exception:  # a faulty filter must not break delivery to everyone else
            logger.exception("subscription filter failed on %s/%s", event.topic, event.operation)
            return
        if self.dropped or len(self.buffer) >= self.size:
            self.dropped += 1
            EVENTS_DROPPED.inc()
        else:
            self.buffer.append(event)
        self._wake.set()

    def lose(self, count: int = 1) -> None:
        """Record events this subscriber missed for reasons outside it (e.g. a lost broker connection)."""
        if not self.closed:
            self.dropped += count
            EVENTS_DROPPED.inc(count)
            self._wake.set()

    def close(self) -> None:
        """End the stream after what is buffered (graceful shutdown)."""
        self.closed = True
        self._wake.set()

    async def events(self) -> AsyncIterator[ChangeEvent | Dropped]:
        """Events in order; a `Dropped` says how many were lost at that point. Ends when closed."""
        while True:
            if self.buffer:
                yield self.buffer.popleft()
            elif self.dropped:
                dropped, self.dropped = self.dropped, 0
                yield Dropped(dropped)
            elif self.closed:
                return
            else:
                self._wake.clear()
                await self._wake.wait()


class EventBus(abc.ABC):
    """Publishes committed events and fans them out to this instance's subscriptions."""

    def __init__(self, buffer_size: int = 1000) -> None:
        self.subscriptions: set[Subscription] = set()
        self.buffer_size = buffer_size
        self._idle = asyncio.Event()  # set while no subscription is open: shutdown waits on it
        self._idle.set()

    @abc.abstractmethod
    async def start(self) -> None:
        ...

    @abc.abstractmethod
    async def stop(self) -> None:
        ...

    @abc.abstractmethod
    async def publish(self, events: list[ChangeEvent]) -> None:
        """Deliver committed events to every matching subscriber (of any instance), in order."""

    async def ping(self) -> None:  # noqa: B027 - a default, not abstract: only a networked bus has a peer to ask
        """Raise unless the transport answers (readiness); in-process needs nothing."""

    def subscribe(self, workspace: str, accepts: Predicate, size: int | None = None) -> Subscription:
        subscription = Subscription(workspace, accepts, size or self.buffer_size)
        self.subscriptions.add(subscription)
        SUBSCRIPTIONS_OPEN.inc()
        self._idle.clear()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription in self.subscriptions:
            self.subscriptions.remove(subscription)
            SUBSCRIPTIONS_OPEN.dec()
        if not self.subscriptions:
            self._idle.set()

    def deliver(self, event: ChangeEvent) -> None:
        """Hand one event to this instance's subscriptions (never blocks)."""
        for subscription in list(self.subscriptions):
            subscription.offer(event)

    async def close_subscriptions(self, timeout: float = 5.0) -> None:
        """Graceful shutdown: end every open stream and wait (bounded) until their consumers let go."""
        for subscription in list(self.subscriptions):
            subscription.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
