"""A lock kept alive outlasts its TTL while held, and says so when it was lost."""

from __future__ import annotations

import time

import pytest

from core.locks import LockBusy, LockLost, kept_alive
from core.redis import get_redis
from core.settings import Settings


def test_a_held_lock_outlives_its_ttl_and_keeps_others_out(runtime: Settings) -> None:
    client = get_redis(runtime)
    with kept_alive(client, "test:lock:long", ttl=0.3, wait=1) as held:
        time.sleep(1.0)  # three TTLs of work
        assert client.exists("test:lock:long")
        with pytest.raises(LockBusy), kept_alive(client, "test:lock:long", ttl=0.3, wait=0.2):
            pass
        held.check()  # still ours: the work may commit
    assert not client.exists("test:lock:long")  # released at the end
    with kept_alive(client, "test:lock:long", ttl=0.3, wait=0.2) as again:
        again.check()  # free again, and ours


def test_a_lock_lost_while_held_refuses_the_commit(runtime: Settings) -> None:
    client = get_redis(runtime)
    with kept_alive(client, "test:lock:lost", ttl=0.3, wait=1) as held:
        client.delete("test:lock:lost")  # as a Redis restart or failover would
        time.sleep(0.5)  # the next renewal finds it gone
        with pytest.raises(LockLost):
            held.check()
