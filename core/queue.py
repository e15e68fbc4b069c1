"""RQ queues, in priority order, and the one way to enqueue a job.

Jobs are referenced by dotted path and serialised as JSON (no pickles cross process boundaries),
carry deterministic ids so a repeat is detected, and declare their retry policy. Jobs queued
during a database transaction go out only after it commits (:func:`enqueue_after_commit`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
import redis.client
from rq import Queue, Retry, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import as_text
from sqlalchemy.orm import Session

from core import poison
from core.db import after_commit
from core.dequeue import PrefetchingQueue
from core.redis import get_redis
from core.settings import get_settings

# Highest priority first: a worker always drains the earlier queues before the later ones. Sends of
# one-to-one texts come before inbound analysis, so a reply never waits behind newer texts to analyse
# (under a backlog the wait stays in the analysis, bounded); marketing only gets what is left.
QUEUE_NAMES: tuple[str, ...] = ("transactional", "conversational", "inbound", "marketing", "default")
FAILURE_TTL_SECONDS = 7 * 24 * 3600  # a failed job stays for operators (the failed-jobs page) a week
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failing job is tried again (RQ ``Retry``)."""

    max: int = 5
    intervals: tuple[int, ...] = (2, 10, 60, 300, 900)

    def to_rq(self) -> Retry:
        return Retry(max=self.max, interval=list(self.intervals))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max=0, intervals=())


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to enqueue one job; kept until commit when queued in a transaction."""

    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    queue: str = "default"
    retry: RetryPolicy = DEFAULT_RETRY
    at: datetime | None = None
    timeout: int = 600
    #: seconds RQ keeps the finished job and its return value; 0 deletes it at success (nobody reads a
    #: send's or a drain's return value, and keeping it cost a result stream and a registry entry per job)
    result_ttl: int = 0


_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def rq_job_id(job_id: str) -> str:
    """RQ ids allow letters, digits, ``_`` and ``-``: ``send:42`` becomes ``send-42``."""
    return _UNSAFE_ID_CHARS.sub("_", job_id.replace(":", "-"))


def get_queue(name: str) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    return PrefetchingQueue(name, connection=get_redis(get_settings()), serializer=JSONSerializer)


def all_queues() -> list[Queue]:
    return [get_queue(name) for name in QUEUE_NAMES]


def enqueue(spec: JobSpec, *, rerun_failed: bool = True) -> Job | None:
    """Enqueue ``spec``; returns ``None`` when a job with the same id is still pending or running.

    A finished or failed job with the same id is replaced, so a deliberate re-run works; one that
    was dead-lettered (:mod:`core.poison`) is not, until an operator re-queues it. ``rerun_failed=False``
    (a sweep re-queuing work whose job may have been lost) leaves a failed one to its operator too: only
    an id Redis does not know, or a finished one, is queued.

    Two round trips for a job with an id: the dead-letter mark, the id's current status and the queue's
    registration in ``rq:queues`` together, then RQ's enqueue script, which refuses an id that exists
    (two callers racing with one id: one wins). Each was a round trip of its own (five in all).
    """
    queue = get_queue(spec.queue)
    job_id = rq_job_id(spec.job_id) if spec.job_id else None
    if job_id is None:  # nothing to check: RQ's enqueue in one round trip
        return _enqueue(queue, spec, None, queue.connection.pipeline())
    checks = queue.connection.pipeline(transaction=False)  # read-only but for an idempotent SADD: no MULTI/EXEC
    checks.sadd(queue.redis_queues_keys, queue.key)  # what RQ's enqueue would send on its own
    poison.ask_dead(checks, job_id)
    checks.hget(Job.key_for(job_id), "status")
    _, dead, status = checks.execute()
    known = JobStatus(as_text(status)) if status is not None else None
    if dead or known in ACTIVE or (known is not None and known != JobStatus.FINISHED and not rerun_failed):
        return None
    if status is not None:  # finished or failed: replaced
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer).delete()
    try:
        return _enqueue(queue, spec, job_id, queue.connection.pipeline())
    except DuplicateJobError:
        return None


def _whole_second_after(at: datetime) -> datetime:
    """``at`` rounded up to its second. RQ's scheduler keeps a job's time in whole seconds, cut down: a wake-up
    for a row due at 12:00:30.4 ran at 12:00:30.0-.4 about as often as not, found the row not yet due and left
    it to the recovery sweep, ten minutes later."""
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + timedelta(seconds=1)


def _enqueue(queue: Queue, spec: JobSpec, job_id: str | None, pipe: redis.client.Pipeline) -> Job:
    """RQ's enqueue of ``spec`` with ``pipe`` executed after it; with an id, RQ's unique-enqueue script runs at
    once and only adds the queue's registration to ``pipe``, which :func:`enqueue` sent already: dropped."""
    options: dict[str, Any] = {
        "args": spec.args,
        "kwargs": spec.kwargs,
        "job_id": job_id,
        "retry": spec.retry.to_rq() if spec.retry.max else None,
        "job_timeout": spec.timeout,
        "result_ttl": spec.result_ttl,
        "failure_ttl": FAILURE_TTL_SECONDS,
        "unique": job_id is not None,
        "pipeline": pipe,
    }
    if spec.at is not None:
        job = queue.enqueue_at(_whole_second_after(spec.at), spec.func, **options)
    else:
        job = queue.enqueue(spec.func, **options)
    if job_id is None:
        pipe.execute()
    else:
        pipe.reset()
    return job


def depths() -> dict[tuple[str, str], int]:
    """Jobs per (queue, state) for the operators' metrics: ``queued`` (waiting for a worker), ``started``,
    ``scheduled``/``deferred`` (waiting for a time or another job) and ``failed`` (kept a week for the failed-jobs
    page), read from Redis so every host reports the same. One pipelined round trip for every queue."""
    client = get_redis(get_settings())
    pipe = client.pipeline(transaction=False)
    asked: list[tuple[str, str]] = []
    for queue in all_queues():
        registries = {
            "started": queue.started_job_registry,
            "scheduled": queue.scheduled_job_registry,
            "deferred": queue.deferred_job_registry,
            "failed": queue.failed_job_registry,
        }
        pipe.llen(queue.key)
        asked.append((queue.name, "queued"))
        for state, registry in registries.items():
            pipe.zcard(registry.key)
            asked.append((queue.name, state))
    return {key: int(count) for key, count in zip(asked, pipe.execute(), strict=True)}


def live_workers(client: redis.Redis, names: Iterable[str]) -> set[str]:
    """Those of ``names`` whose worker registration is in Redis: a running worker re-asserts it at
    least every 30 s (RQ's heartbeat while a job runs), a dead one's expires within 90 s of its last."""
    ordered = sorted(set(names))
    if not ordered:
        return set()
    pipe = client.pipeline()
    for name in ordered:
        pipe.exists(Worker.redis_worker_namespace_prefix + name)
    return {name for name, found in zip(ordered, pipe.execute(), strict=True) if found}


def enqueue_after_commit(session: Session, spec: JobSpec) -> None:
    """Queue ``spec`` once ``session`` commits; nothing is sent if it rolls back."""
    after_commit(session, lambda: enqueue(spec))


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    args: Sequence[Any]
    error: str  # the traceback, or why the job was dead-lettered
    reason: str  # its last line: the exception, or "dead-lettered: killed or froze its worker 3 times"
    failed_at: datetime | None


def failed_jobs(limit: int = 100) -> list[FailedJob]:
    """Jobs that exhausted their retries, across every queue, newest first."""
    found: list[FailedJob] = []
    for queue in all_queues():
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids(0, limit - 1):
            try:
                job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
            except NoSuchJobError:
                continue
            error = _error_of(job)
            found.append(
                FailedJob(
                    id=job.id,
                    queue=queue.name,
                    func=job.func_name or "",
                    args=list(job.args or ()),
                    error=error,
                    reason=(error.strip().splitlines() or [""])[-1],
                    failed_at=job.ended_at,
                )
            )
    found.sort(key=lambda j: j.failed_at or datetime.min, reverse=True)
    return found[:limit]


def _error_of(job: Job) -> str:
    result = job.latest_result()
    return (result.exc_string or "") if result is not None else ""


def requeue_failed(job_id: str) -> bool:
    """Run a failed job again; a dead-lettered one starts counting its attempts afresh."""
    job_id = rq_job_id(job_id)
    for queue in all_queues():
        registry = FailedJobRegistry(queue=queue)
        if job_id in registry.get_job_ids():
            poison.forget(queue.connection, job_id)
            registry.requeue(job_id)
            return True
    return False
