"""The Redis limiter: strict spacing per bucket, shared buckets, refusal beyond the wait limit."""

from __future__ import annotations

import itertools

from core.redis import get_redis
from core.settings import Settings
from delivery.limiter import RateLimiter, account_bucket, sender_bucket


def test_slots_are_spaced_by_the_slowest_bucket(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    buckets = (sender_bucket("+33612000000", 50), account_bucket("default", 1000))
    slots = [limiter.reserve(buckets, max_wait=5).slot_us for _ in range(60)]
    gaps = {b - a for a, b in itertools.pairwise(slots)}
    assert gaps == {20_000}  # exactly 1/50 s apart: never closer, never a burst
    in_first_second = sum(1 for s in slots if s - slots[0] < 1_000_000)
    assert in_first_second == 50


def test_the_account_bucket_is_shared_by_senders(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    account = account_bucket("shared", 10)
    first = limiter.reserve((sender_bucket("A", 1000), account), max_wait=5)
    second = limiter.reserve((sender_bucket("B", 1000), account), max_wait=5)
    assert second.slot_us - first.slot_us == 100_000


def test_a_slot_too_far_away_is_refused_not_reserved(runtime: Settings) -> None:
    limiter = RateLimiter(get_redis(runtime))
    bucket = (sender_bucket("slow", 1),)
    assert limiter.reserve(bucket, max_wait=0.5).granted
    refused = limiter.reserve(bucket, max_wait=0.5)
    assert not refused.granted and 0.9 < refused.wait <= 1.0
    assert not limiter.reserve(bucket, max_wait=0.5).granted  # the refusal reserved nothing
