"""Change events: what changed, published only after the transaction that made it committed.

One `EventBus` interface, one module per transport: in-process (the embedded
default) and Redis pub/sub (`redis.py`, several API instances share subscribers).
"""

from .bus import Dropped, EventBus, Subscription
from .event import ChangeEvent
from .memory import InProcessBus

__all__ = ["ChangeEvent", "Dropped", "EventBus", "InProcessBus", "Subscription"]
