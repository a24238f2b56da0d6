"""Change events: what changed, published only after the transaction that made it committed.

One `EventBus` interface, one module per transport: in-process (the embedded
default) and Redis pub/sub (`redis.py`, several API instances share subscribers).
"""

from .bus import Dropped, EventBus, Subscription
from .event import ChangeEvent, ContextDetail, ExecutionDetail, IndexDetail, RelationshipDetail
from .memory import InProcessBus

__all__ = [
    "ChangeEvent", "ContextDetail", "Dropped", "EventBus", "ExecutionDetail", "InProcessBus", "IndexDetail",
    "RelationshipDetail", "Subscription",
]
