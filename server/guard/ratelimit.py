"""Rate limits per principal, counted in operations and in estimated cost (token buckets).

Each principal has two buckets that refill continuously to their per-minute size. An
operation takes 1 from the first and its cost from the second, or nothing if either is
short; then the caller learns how many seconds until it would fit. In-process by
default; in Redis (one atomic script) when several instances share the limits.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

LUA_TAKE = """
local now = tonumber(ARGV[1])
local wait = 0
local state = {}
for i = 1, 2 do
  local capacity = tonumber(ARGV[i * 2])
  local want = tonumber(ARGV[i * 2 + 1])
  local tokens, at = capacity, now
  local saved = redis.call('HMGET', KEYS[i], 't', 'at')
  if saved[1] then tokens = tonumber(saved[1]); at = tonumber(saved[2]) end
  if capacity > 0 then
    tokens = math.min(capacity, tokens + (now - at) * capacity / 60)
    if want > tokens then wait = math.max(wait, (want - tokens) * 60 / capacity) end
  end
  state[i] = tokens
end
if wait == 0 then
  for i = 1, 2 do
    local capacity = tonumber(ARGV[i * 2])
    if capacity > 0 then
      redis.call('HSET', KEYS[i], 't', state[i] - tonumber(ARGV[i * 2 + 1]), 'at', now)
      redis.call('EXPIRE', KEYS[i], 120)
    end
  end
end
return tostring(wait)
"""


class RateLimiter(Protocol):
    async def take(self, principal: str, cost: int) -> float:
        """Take one operation of `cost`; returns 0 if allowed, else the seconds to wait."""


class LocalRateLimiter:
    def __init__(self, operations_per_minute: int, cost_per_minute: int, max_principals: int = 100_000) -> None:
        self.capacities = (operations_per_minute, cost_per_minute)
        self.buckets: dict[str, tuple[list[float], float]] = {}
        self.max_principals = max_principals

    async def take(self, principal: str, cost: int) -> float:
        now = time.monotonic()
        tokens, at = self.buckets.get(principal, ([float(c) for c in self.capacities], now))
        wants = (1, cost)
        refilled = [min(c, t + (now - at) * c / 60) for c, t in zip(self.capacities, tokens)]
        wait = max(
            ((w - t) * 60 / c if c > 0 and w > t else 0.0) for c, t, w in zip(self.capacities, refilled, wants)
        )
        if wait == 0:
            refilled = [t - w if c > 0 else t for c, t, w in zip(self.capacities, refilled, wants)]
        if len(self.buckets) >= self.max_principals and principal not in self.buckets:
            self.buckets.clear()  # bounded memory; a reset only ever lets callers in
        self.buckets[principal] = (refilled, now)
        return wait


class RedisRateLimiter:
    """The same buckets in Redis, so every instance counts against one limit."""

    def __init__(self, url: str, operations_per_minute: int, cost_per_minute: int, prefix: str = "contextql:rate") -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.capacities = (operations_per_minute, cost_per_minute)
        self.prefix = prefix
        self.script = self.client.register_script(LUA_TAKE)

    async def take(self, principal: str, cost: int) -> float:
        keys = [f"{self.prefix}:{principal}:ops", f"{self.prefix}:{principal}:cost"]
        args = [time.time(), self.capacities[0], 1, self.capacities[1], cost]
        return float(await self.script(keys=keys, args=args))

    async def close(self) -> None:
        await self.client.aclose()


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
