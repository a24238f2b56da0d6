"""Write timestamps: microseconds since the epoch, strictly increasing within a process.

Strictly increasing so that `asOf` between two quick writes is never ambiguous.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, UTC

_lock = threading.Lock()
_last = 0


def now_us() -> int:
    global _last
    with _lock:
        _last = max(time.time_ns() // 1000, _last + 1)
        return _last


def to_datetime(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def from_datetime(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)
