"""A Redis rate limiter shared by every worker: strict spacing per sender and per provider account.

Each grant reserves the next free slot of every bucket it names, atomically (one Lua script, so
workers on several hosts never race). A bucket's slots are at least ``1/rate`` seconds apart,
which is a token bucket of depth one (GCRA): in any 1-second window a bucket hands out at most
``rate`` grants, never a burst above it, and a saturated bucket runs at exactly ``rate``.
Time comes from the Redis server (``TIME``), so worker clocks do not matter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.client import Pipeline

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max_wait = tonumber(ARGV[1])
local slot = now
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > slot then slot = tat end
end
if slot - now > max_wait then
  return {0, slot - now, slot}
end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i + 1])
  local ttl = math.floor((slot - now + interval) / 1000) + 1000
  redis.call('SET', key, string.format('%d', slot + interval), 'PX', ttl)
end
return {1, slot - now, slot}
"""


@dataclass(frozen=True)
class Bucket:
    """One limit: a Redis key and its rate in grants per second."""

    key: str
    rate: float

    @property
    def interval_us(self) -> int:
        # rounded up: a bucket may run a hair slower than its rate, never faster
        return math.ceil(1_000_000 / self.rate)


def sender_bucket(address: str, rate: float) -> Bucket:
    return Bucket(f"relais:rl:sender:{address}", rate)


def account_bucket(name: str, rate: float) -> Bucket:
    return Bucket(f"relais:rl:account:{name}", rate)


@dataclass(frozen=True)
class Grant:
    """``granted``: a slot is reserved ``wait`` seconds from now; else the next slot is ``wait`` away.

    ``slot_us`` is the slot in Redis server time (µs since the epoch), for measurements.
    """

    granted: bool
    wait: float
    slot_us: int


class RateLimiter:
    """Reserve send slots; thread-safe (one Redis client, one registered script)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)

    def reserve(self, buckets: tuple[Bucket, ...], *, max_wait: float,
                along: Callable[[Pipeline], object] | None = None) -> Grant:
        """Reserve the next slot free in every bucket, unless it is more than ``max_wait`` s away.

        ``along`` queues other commands on the same pipeline, before the reservation: one round
        trip for both (the delivery engine writes the previous send's journal entry this way).
        """
        args = [int(max_wait * 1_000_000), *(b.interval_us for b in buckets)]
        pipe = self._client.pipeline(transaction=False)
        if along is not None:
            along(pipe)
        self._script(keys=[b.key for b in buckets], args=args, client=pipe)
        granted, wait_us, slot_us = pipe.execute()[-1]
        return Grant(bool(granted), int(wait_us) / 1_000_000, int(slot_us))

    def acquire(self, buckets: tuple[Bucket, ...], *, max_wait: float,
                along: Callable[[Pipeline], object] | None = None) -> Grant:
        """:meth:`reserve`, then sleep until the slot when granted (the caller sends right after)."""
        grant = self.reserve(buckets, max_wait=max_wait, along=along)
        if grant.granted and grant.wait > 0:
            time.sleep(grant.wait)
        return grant
