"""In-process event bus: the embedded default (one API instance)."""

from __future__ import annotations

from .bus import EventBus
from .event import ChangeEvent


class InProcessBus(EventBus):
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for subscription in list(self.subscriptions):
            subscription.close()

    async def publish(self, events: list[ChangeEvent]) -> None:
        for event in events:
            self.deliver(event)
