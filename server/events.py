"""Choose the event bus: Redis when `CONTEXTQL_REDIS_URL` is set, else in-process."""

from __future__ import annotations

from contextql.graph.events import EventBus, InProcessBus

from .settings import Settings


def open_bus(settings: Settings) -> EventBus:
    if settings.redis_url:
        from contextql.graph.events.redis import RedisBus

        return RedisBus(settings.redis_url, channel=settings.redis_channel, buffer_size=settings.subscription_buffer)
    return InProcessBus(settings.subscription_buffer)
