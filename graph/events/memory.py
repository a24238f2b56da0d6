"""In-process event bus: the embedded default."""

from __future__ import annotations

from .bus import EventBus, Predicate, Subscription
from .event import ChangeEvent


class InProcessBus(EventBus):
    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.subscriptions.clear()

    async def publish(self, events: list[ChangeEvent]) -> None:
        for event in events:
            for subscription in list(self.subscriptions):
                subscription.offer(event)

    def subscribe(self, workspace: str, accepts: Predicate, size: int = 1000) -> Subscription:
        subscription = Subscription(workspace, accepts, size)
        self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)
