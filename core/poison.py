"""Poison jobs: counting a job id's attempts across worker deaths, and retiring it to the dead letters.

RQ retries a failing job as its ``Retry`` says, and a job abandoned by a dead worker is retried too;
but a job that kills or freezes its worker (a segfault, the OOM killer, a regex holding the GIL) is
seen as abandoned again and again, and the periodic sweeps queue the same job id anew after its
retries. So every start of a job id is counted in Redis, whoever runs it: starts that never reached
their end are worker deaths. After :data:`MAX_DEATHS` deaths or :data:`MAX_STARTS` starts without a
success the job is not run again: it goes to the failed-jobs registry with the reason, and
:func:`core.queue.enqueue` refuses its id until an operator re-queues it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.client

MAX_DEATHS = 3
# two rounds of the default retry policy (1 + 5 tries): the sweeps may queue a failing job once more
MAX_STARTS = 12
COUNT_TTL_SECONDS = 24 * 3600  # attempts further apart than a day start counting again
DEAD_TTL_SECONDS = 7 * 24 * 3600  # as long as RQ keeps a failed job


def _key(job_id: str) -> str:
    return f"relais:job-attempts:{job_id}"


@dataclass(frozen=True)
class Attempts:
    """A job id's history: ``starts`` (this one included), ``failures`` (ended with an exception),
    ``dead`` (retired to the dead letters: its last start was refused, not run)."""

    starts: int
    failures: int
    dead: bool = False

    @property
    def runs(self) -> int:
        """How many times the job actually began running (a dead-lettering start never does)."""
        return self.starts - 1 if self.dead else self.starts

    @property
    def deaths(self) -> int:
        """Earlier starts that never ended: the worker died (or was killed) under them."""
        return max(self.starts - 1 - self.failures, 0)

    def verdict(self) -> str | None:
        """Why the job must not run again, or ``None``."""
        if self.deaths >= MAX_DEATHS:
            return f"dead-lettered: killed or froze its worker {self.deaths} times"
        if self.starts > MAX_STARTS:
            return f"dead-lettered: started {self.starts - 1} times without success ({self.failures} failures)"
        return None


def count_start(pipe: redis.client.Pipeline, job_id: str) -> int:
    """Queue the count of a start of ``job_id`` on ``pipe`` (a worker sends it with the rest of the job's
    start, one round trip); returns the index of its first result for :func:`counted`."""
    first = len(pipe)
    pipe.hincrby(_key(job_id), "starts", 1)
    pipe.hget(_key(job_id), "failures")
    pipe.expire(_key(job_id), COUNT_TTL_SECONDS)
    return first


def counted(results: Sequence[Any], first: int) -> Attempts:
    """The history :func:`count_start` read, from the pipeline's ``results``."""
    starts, failures = results[first], results[first + 1]
    return Attempts(starts=int(starts), failures=int(failures or 0))


def record_start(client: redis.Redis, job_id: str) -> Attempts:
    """Count a start of ``job_id`` (before it runs) and return its history."""
    pipe = client.pipeline()
    first = count_start(pipe, job_id)
    return counted(pipe.execute(), first)


def count_end(pipe: redis.client.Pipeline | redis.Redis, job_id: str, *, succeeded: bool) -> None:
    """The job returned (success: its history is over) or raised (one failure, not a death); on ``pipe``
    to go with the rest of the job's end."""
    if succeeded:
        pipe.delete(_key(job_id))
    else:
        pipe.hincrby(_key(job_id), "failures", 1)


def record_end(client: redis.Redis, job_id: str, *, succeeded: bool) -> None:
    """:func:`count_end` at once."""
    count_end(client, job_id, succeeded=succeeded)


def mark_dead(client: redis.Redis, job_id: str) -> None:
    """Remember ``job_id`` as dead-lettered, so nothing queues it again on its own."""
    pipe = client.pipeline()
    pipe.hset(_key(job_id), "dead", 1)
    pipe.expire(_key(job_id), DEAD_TTL_SECONDS)
    pipe.execute()


def history(client: redis.Redis, job_id: str) -> Attempts | None:
    """What is counted of ``job_id``, or ``None`` once forgotten (it succeeded, or a day passed without a start)."""
    starts, failures, dead = client.hmget(_key(job_id), ["starts", "failures", "dead"])
    if starts is None:
        return None
    return Attempts(starts=int(starts), failures=int(failures or 0), dead=dead is not None)


def is_dead(client: redis.Redis, job_id: str) -> bool:
    return bool(client.hexists(_key(job_id), "dead"))


def ask_dead(pipe: redis.client.Pipeline, job_id: str) -> None:
    """Queue :func:`is_dead`'s question on ``pipe``: its result is true when ``job_id`` is dead-lettered."""
    pipe.hexists(_key(job_id), "dead")


def forget(client: redis.Redis, job_id: str) -> None:
    """Start counting afresh (an operator re-queued the job)."""
    client.delete(_key(job_id))
