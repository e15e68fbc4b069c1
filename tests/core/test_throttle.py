"""The brute-force throttle on a real Redis: lockouts after the limit, doubling, capped, shared."""

from __future__ import annotations

import time

import redis as redis_lib

from core.redis import get_redis
from core.security.throttle import Policy, Throttle
from core.settings import Settings

FAST = Policy("test", limit=3, window=60, base_lockout=1, max_lockout=2)


def test_lockout_after_the_limit_then_doubling_and_capped(runtime: Settings) -> None:
    throttle = Throttle(get_redis(runtime))
    assert [throttle.fail(FAST, "ana") for _ in range(3)] == [0, 0, 1]
    assert throttle.locked_for(FAST, "ana") == 1
    assert throttle.locked_for(FAST, "bob") == 0  # subjects are independent
    time.sleep(1.1)
    assert throttle.locked_for(FAST, "ana") == 0
    # after a lockout, the next failure locks again at once, twice as long, up to the cap
    assert throttle.fail(FAST, "ana") == 2
    time.sleep(2.1)
    assert throttle.fail(FAST, "ana") == 2


def test_reset_forgets_failures_and_past_lockouts(runtime: Settings) -> None:
    throttle = Throttle(get_redis(runtime))
    assert [throttle.fail(FAST, "ana") for _ in range(3)] == [0, 0, 1]
    throttle.reset(FAST, "ana")
    assert throttle.locked_for(FAST, "ana") == 1  # a lockout in progress is not lifted by a reset
    time.sleep(1.1)
    assert [throttle.fail(FAST, "ana") for _ in range(3)] == [0, 0, 1]  # back to the first lockout


def test_counts_are_shared_between_clients_and_hold_no_subject_in_clear(runtime: Settings) -> None:
    """Two API replicas (two Redis clients) see the same counts; keys are keyed hashes."""
    first = Throttle(redis_lib.Redis.from_url(runtime.redis_url))
    second = Throttle(redis_lib.Redis.from_url(runtime.redis_url))
    first.fail(FAST, "ana@example.com")
    first.fail(FAST, "ana@example.com")
    assert second.fail(FAST, "ana@example.com") == 1
    assert first.locked_for(FAST, "ana@example.com") == 1
    keys = [str(k) for k in get_redis(runtime).keys("relais:throttle:*")]
    assert keys and not any("ana" in k for k in keys)
