"""Delivery reports taken from webhooks and applied in batches by a job.

During a campaign the provider posts one report per message, thousands a second. The webhook only
checks the signature, parses, and pushes the reports onto a Redis list, then schedules one apply job
when none is scheduled. On the API's event loop the push is a group commit (:class:`Stager`): the
reports of every webhook that arrives while a push is under way go together in the next one, one
round trip for many webhooks, written from the event loop itself (:mod:`core.redis_async`), and each
webhook answers once its own reports are in Redis. The job
applies up to :data:`BATCH` reports per transaction (:func:`delivery.states.apply_delivery_reports`:
a fixed handful of statements per batch whatever its size — the lookup, one locked read of the
columns reports move, one UPDATE of the rows that changed; ``bench/reports_apply.py``
measures it). Applying is idempotent (a later state always wins), so a report applied twice, or the
provider's retry of one, changes nothing. A running job keeps the scheduling flag up until it finds
the list empty, so a campaign's reports keep one job busy rather than queue one per batch. A periodic
run of the job catches reports whose announcement was lost (the flag expires after :data:`FLAG_SECONDS`).

Between the webhook's 200 and the job, a report lives in Redis, as every queued job does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import redis

from channels.base import DeliveryReport
from core import db
from core.queue import JobSpec, enqueue
from core.redis_async import LoopRedis
from delivery import states

PENDING_KEY = "relais:reports:pending"
SCHEDULED_KEY = "relais:reports:apply-scheduled"
APPLY_JOB = "workers.jobs.send.apply_reports"
BATCH = 500
FLAG_SECONDS = 300
_FIELDS = tuple(f.name for f in fields(DeliveryReport) if f.name != "raw")  # raw: the provider's own fields, unused


def encode(report: DeliveryReport) -> str:
    # field by field: asdict() deep-copies ``raw`` (every field the provider sent) only to drop it
    data: dict[str, Any] = {name: getattr(report, name) for name in _FIELDS}
    data["occurred_at"] = report.occurred_at.isoformat()
    return json.dumps(data)


def decode(raw: bytes | str) -> DeliveryReport:
    data = json.loads(raw)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    return DeliveryReport(**data)


def stage(client: redis.Redis, reports: Sequence[DeliveryReport]) -> int:
    """Keep ``reports`` for the apply job and make sure one is scheduled; returns how many were kept."""
    if reports:
        _push(client, [encode(r) for r in reports])
    return len(reports)


def _push(client: redis.Redis, encoded: list[str]) -> None:
    """One round trip: append to the list and raise the scheduling flag; enqueue a job when it was down."""
    pipe = client.pipeline(transaction=False)  # both commands are idempotent: MULTI/EXEC would only add work
    for command in _push_commands(encoded):
        pipe.execute_command(*command)
    _, scheduled = pipe.execute()
    if scheduled:
        _enqueue_apply()


def _push_commands(encoded: list[str]) -> tuple[tuple[str | int, ...], ...]:
    """RPUSH the reports; SET the flag if it is down (the reply says whether it was)."""
    return ("RPUSH", PENDING_KEY, *encoded), ("SET", SCHEDULED_KEY, "1", "NX", "EX", FLAG_SECONDS)


def _enqueue_apply() -> None:
    enqueue(JobSpec(func=APPLY_JOB, job_id=f"reports-apply:{uuid.uuid4().hex}", queue="inbound"))


class Stager:
    """:func:`stage` for an asyncio server, as a group commit: one push for the webhooks of a moment.

    A call returns once its reports are in Redis (the webhook's 200 promises they are kept) and
    raises what the push raised (the provider then retries). While one push is under way, later
    calls wait together and go in the next push: under a campaign's thousands of reports a second,
    one Redis round trip serves many webhooks instead of one each. The push is written and read on
    the event loop (:class:`core.redis_async.LoopRedis`, to the server ``client`` uses): a worker
    thread per push cost the API a third of its time per report. Only the rare enqueue of an apply
    job (when the flag was down) goes to a thread, RQ being synchronous.
    Bound to one event loop (use :func:`stager`).
    """

    def __init__(self, client: redis.Redis) -> None:
        self._redis = LoopRedis.like(client)
        self._pending: list[str] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def stage(self, reports: Sequence[DeliveryReport]) -> int:
        if not reports:
            return 0
        loop = asyncio.get_running_loop()
        kept = loop.create_future()
        self._pending.extend(encode(r) for r in reports)
        self._waiters.append(kept)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        await kept
        return len(reports)

    async def _flush(self) -> None:
        try:
            while self._waiters:
                encoded, waiters = self._pending, self._waiters
                self._pending, self._waiters = [], []
                try:
                    await self._push(encoded)
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._flusher = None

    async def _push(self, encoded: list[str]) -> None:
        _, scheduled = await self._redis.execute(*_push_commands(encoded))
        if scheduled is not None:  # OK: the flag was down, no job is scheduled
            await asyncio.to_thread(_enqueue_apply)


_stagers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Stager]] = weakref.WeakKeyDictionary()


def stager(client: redis.Redis) -> Stager:
    """The running event loop's :class:`Stager` for ``client`` (call from a coroutine)."""
    by_client = _stagers.setdefault(asyncio.get_running_loop(), {})
    found = by_client.get(id(client))
    if found is None:
        found = by_client[id(client)] = Stager(client)
    return found


def apply_pending(client: redis.Redis, *, batch: int = BATCH) -> int:
    """Apply every staged report, ``batch`` per transaction; returns how many were taken.

    The scheduling flag stays up while the job runs, so the webhooks meanwhile schedule no other job
    (when the flag was cleared before each pop, a campaign's webhooks queued a job per batch, three
    in four of which found the list empty). It is cleared once the list is found empty, and the list
    is popped once more after that: a report pushed while the flag was still up is popped here, one
    pushed after schedules a new job. A batch whose transaction fails goes back to the list's head
    and the job fails, to be retried (the flag left up, expiring after :data:`FLAG_SECONDS`, and
    the periodic run catches up): nothing popped is dropped.
    """
    taken = 0
    while True:
        raw: list[bytes] | None = client.lpop(PENDING_KEY, batch)  # type: ignore[assignment]
        if not raw:
            client.delete(SCHEDULED_KEY)
            raw = client.lpop(PENDING_KEY, batch)  # type: ignore[assignment]
            if not raw:
                return taken
        try:
            with db.session_scope() as session:
                states.apply_delivery_reports(session, [decode(r) for r in raw])
        except Exception:
            client.lpush(PENDING_KEY, *reversed(raw))
            raise
        taken += len(raw)
