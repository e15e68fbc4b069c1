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
provider's retry of one, changes nothing. A job takes the list until it has emptied it, and the
scheduling flag stays up until then, so a campaign's reports never queue a job per batch. On the API
the job is enqueued :data:`APPLY_DELAY_SECONDS` after the flag went up, so the reports of that moment go
in one batch: a batch's statements cost about the same for 50 reports as for 250, and the job popped
a few dozen at a time when it ran as soon as reports arrived (docs/benchmark-log.md). A periodic run of the
job catches reports whose announcement was lost (the flag expires after :data:`FLAG_SECONDS`).

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

import redis
import structlog

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
#: how long after the flag went up the API enqueues the apply job: at a campaign's 1,000 reports a second
#: the job then finds about 250 (it found 50 when enqueued at once); the reports wait that much longer
APPLY_DELAY_SECONDS = 0.25
log = structlog.get_logger("relais.reports")
# left out: raw (the provider's own fields, unused) and to (the recipient's number: applying a report never reads
# it, and a report waiting here, the database down or no worker running, kept it in clear out of erasure's reach)
_FIELDS = tuple(f.name for f in fields(DeliveryReport) if f.name not in {"raw", "to"})
_KEYS = tuple((name, json.dumps(name) + ": ") for name in _FIELDS)
_escape = json.encoder.encode_basestring_ascii  # what json.dumps escapes text with (ensure_ascii)


def encode(report: DeliveryReport) -> str:
    """The report as the JSON object :func:`decode` reads: ``json.dumps`` of its fields but ``raw`` (the
    provider's own fields, unused) and ``to`` (the recipient's number, unused), the time in ISO form.

    Written field by field: ``json.dumps`` builds a new encoder per call, which cost the status webhook
    two thirds of this function (12 → 4 µs per report); a text is escaped by the same C function
    ``json.dumps`` uses, so the text is the same to the byte (``tests/delivery/test_reports.py``)."""
    parts = []
    for name, key in _KEYS:
        value = getattr(report, name)
        if name == "occurred_at":
            value = value.isoformat()
        if value is None:
            parts.append(key + "null")
        elif type(value) is str:
            parts.append(key + _escape(value))
        else:  # an int price, or whatever a provider sent where text belongs
            parts.append(key + json.dumps(value))
    return "{" + ", ".join(parts) + "}"


def decode(raw: bytes | str) -> DeliveryReport:
    data = json.loads(raw)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    return DeliveryReport(**data)


def stage(client: redis.Redis, reports: Sequence[DeliveryReport]) -> int:
    """Keep ``reports`` for the apply job and make sure one is scheduled (enqueued at once: there is no
    event loop to wait on); returns how many were kept."""
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
    thread per push cost the API a third of its time per report. Only the enqueue of an apply job, when
    the flag was down, goes to a thread (RQ being synchronous), ``delay`` seconds later
    (:data:`APPLY_DELAY_SECONDS`), the webhook answered by then. An enqueue that fails is logged and the
    flag dropped, so the next report schedules the job again (the reports are kept meanwhile; a process
    stopped during the delay leaves them to the periodic run).
    Bound to one event loop (use :func:`stager`).
    """

    def __init__(self, client: redis.Redis, *, delay: float = APPLY_DELAY_SECONDS) -> None:
        self._redis = LoopRedis.like(client)
        self._delay = delay
        self._pending: list[str] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._enqueues: set[asyncio.Task[None]] = set()

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
            asyncio.get_running_loop().call_later(self._delay, self._schedule_apply)

    def _schedule_apply(self) -> None:
        task = asyncio.get_running_loop().create_task(self._enqueue_apply())
        self._enqueues.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._enqueues.discard)

    async def _enqueue_apply(self) -> None:
        try:
            await asyncio.to_thread(_enqueue_apply)
        except Exception:
            log.exception("enqueueing the delivery report job failed; the next report tries again")
            try:
                await self._redis.execute(("DEL", SCHEDULED_KEY))
            except Exception:  # Redis is gone: the flag expires and the periodic run applies the reports
                log.warning("dropping the delivery report job's flag failed")


_stagers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Stager]] = weakref.WeakKeyDictionary()


def stager(client: redis.Redis) -> Stager:
    """The running event loop's :class:`Stager` for ``client`` (call from a coroutine)."""
    by_client = _stagers.setdefault(asyncio.get_running_loop(), {})
    found = by_client.get(id(client))
    if found is None:
        found = by_client[id(client)] = Stager(client)
    return found


#: Pop up to ARGV[1] reports; drop the scheduling flag if that leaves the list empty. One script, so no
#: report can land between the pop and the drop: a webhook's RPUSH before it is popped here, and its SET NX
#: after it finds the flag down and schedules a job (the webhook pushes the list first, then the flag).
_POP = """
local popped = redis.call('LPOP', KEYS[1], ARGV[1])
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return popped
"""


def apply_pending(client: redis.Redis, *, batch: int = BATCH) -> int:
    """Apply every staged report, ``batch`` per transaction; returns how many were taken.

    The scheduling flag stays up while reports are left, so the webhooks meanwhile schedule no other
    job (when the flag was cleared before each pop, a campaign's webhooks queued a job per batch, three
    in four of which found the list empty). The pop that empties the list drops it (:data:`_POP`): the
    job applies that last batch and ends, and a report pushed after schedules the next job, which the
    API enqueues :data:`APPLY_DELAY_SECONDS` later (rather than a job that would pop a few at a time).
    A batch whose transaction fails goes back to the list's head with the flag up and the job fails, to
    be retried (the flag expiring after :data:`FLAG_SECONDS`, the periodic run catching up, meanwhile no
    webhook schedules a job that would fail the same way): nothing popped is dropped.
    """
    pop = client.register_script(_POP)
    taken = 0
    while True:
        raw: list[bytes] | None = pop(keys=[PENDING_KEY, SCHEDULED_KEY], args=[batch])
        if not raw:
            return taken
        try:
            with db.session_scope() as session:
                states.apply_delivery_reports(session, [decode(r) for r in raw])
        except Exception:
            pipe = client.pipeline(transaction=False)
            pipe.lpush(PENDING_KEY, *reversed(raw))
            pipe.set(SCHEDULED_KEY, "1", ex=FLAG_SECONDS)
            pipe.execute()
            raise
        taken += len(raw)
        if len(raw) < batch:  # the list was left empty and the flag dropped: later reports schedule a job
            return taken
