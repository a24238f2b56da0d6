"""Change events: what changed, published only after the transaction that made it committed.

One `EventBus` interface, one module per transport (in-process for the embedded
default; Redis pub/sub when several API instances share subscribers).
"""

from .bus import EventBus, Subscription
from .event import ChangeEvent
from .memory import InProcessBus

__all__ = ["ChangeEvent", "EventBus", "InProcessBus", "Subscription"]
