"""The event-bus interface."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Callable

from .event import ChangeEvent

Predicate = Callable[[ChangeEvent], bool]


class Subscription:
    """A bounded queue of one subscriber's events.

    A full queue never blocks the publisher: the overflowing events are dropped and
    the subscriber is told how many with a `None` marker followed by `dropped`.
    """

    def __init__(self, workspace: str, accepts: Predicate, size: int) -> None:
        self.workspace, self.accepts = workspace, accepts
        self.queue: asyncio.Queue[ChangeEvent | None] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, event: ChangeEvent) -> None:
        if event.workspace != self.workspace or not self.accepts(event):
            return
        if self.dropped:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = 1

    async def events(self) -> AsyncIterator[ChangeEvent | int]:
        """Events in order; an `int` instead of an event says how many were dropped since."""
        while True:
            if self.queue.empty() and self.dropped:
                dropped, self.dropped = self.dropped, 0
                yield dropped
                continue
            yield await self.queue.get()


class EventBus(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        ...

    @abc.abstractmethod
    async def stop(self) -> None:
        ...

    @abc.abstractmethod
    async def publish(self, events: list[ChangeEvent]) -> None:
        """Deliver committed events to every matching subscriber (of any instance)."""

    @abc.abstractmethod
    def subscribe(self, workspace: str, accepts: Predicate, size: int = 1000) -> Subscription:
        ...

    @abc.abstractmethod
    def unsubscribe(self, subscription: Subscription) -> None:
        ...
