"""A Redis lock kept alive while its holder works, for jobs whose step may outlast any fixed TTL.

A lock with a fixed TTL expires under a step that runs long (a 5,000-contact preparation chunk on a
loaded machine took more than its 120 s): another holder may then enter, and releasing raises
``LockNotOwnedError`` after the work committed. Here a thread renews the TTL every third of it while
the holder works, so the TTL only bounds how long a *dead* holder keeps others out; if renewing
fails (Redis lost the key: failover, restart, a pause longer than the TTL), :meth:`HeldLock.check`
raises :class:`LockLost` so the holder rolls back instead of committing unprotected work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from redis.exceptions import LockError
from redis.lock import Lock


class LockBusy(RuntimeError):
    """The lock stayed taken for the whole wait (a job fails and is retried)."""


class LockLost(RuntimeError):
    """The lock expired or vanished while held: the work must not be committed."""


@dataclass
class HeldLock:
    """The lock while held; :meth:`check` before committing what it protects."""

    lock: Lock
    lost: threading.Event

    def check(self) -> None:
        if self.lost.is_set():
            raise LockLost(f"lost the lock {self.lock.name!r} while working; nothing of this step is kept")


@contextmanager
def kept_alive(client: redis.Redis, name: str, *, ttl: float, wait: float) -> Iterator[HeldLock]:
    """Take ``name`` (waiting up to ``wait`` s), renew it every ``ttl / 3`` s until the block ends, release it.

    Raises:
        LockBusy: not taken within ``wait`` seconds.
    """
    lock = client.lock(name, timeout=ttl, blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise LockBusy(f"{name!r} stayed taken for {wait:g} s")
    done, lost = threading.Event(), threading.Event()

    def renew() -> None:
        while not done.wait(ttl / 3):
            try:
                lock.reacquire()
            except (LockError, redis.RedisError):
                lost.set()
                return

    renewer = threading.Thread(target=renew, name=f"lock-renew:{name}", daemon=True)
    renewer.start()
    try:
        yield HeldLock(lock, lost)
    finally:
        done.set()
        renewer.join()
        with contextlib.suppress(LockError, redis.RedisError):
            lock.release()
