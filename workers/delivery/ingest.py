"""Jobs turning stored inbound events into answered messages (``agent.intake``, a batch at a time).

Webhooks push event ids to a Redis list and schedule one :func:`drain_inbound` job when none is
scheduled and none waits in the queue; the job clears the first flag before each pop, so an id pushed
while it runs either is popped by it or schedules a new job (which another worker runs alongside), and
a job waiting in the queue is not joined by another (it pops everything pushed before it starts). Each pop of up to
:data:`BATCH` events is taken in and answered in one transaction, its replies handed to the
delivery engine after the commit. A pop that found fewer than :data:`BATCH` waits :data:`GATHER_SECONDS`
for more before answering (:func:`_gather`): a batch costs some 15 ms of processor time whatever its
size and each text about 4 more, so at 100 texts/s batches of one or two, as two idle workers took
them, cost twice what batches of eight do (docs/benchmark-log.md). In a drain the replies of one
batch go out on a thread of the job while the next batch is popped and answered (the send waits on
PostgreSQL and the provider, which the next batch no longer waits for); one batch's send at a time,
in batch order, and the job ends only once its last replies were handed over (or their send jobs
queued, as when the engine fails). A batch that fails is taken in again one event at a time, each
message then analysed by its own ``process_inbound`` job (retried). :func:`sweep_inbound` (periodic)
catches events whose announcement was lost or whose processing failed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import structlog

from agent.intake import Intake, take_in
from conversations import flows
from conversations.inbound_backlog import unprocessed_before
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import get_settings
from workers.delivery.runtime import get_engine
from workers.runner import claim_owner

log = structlog.get_logger("relais.inbound")

#: Events taken in, analysed (one encoder call per round) and answered per transaction.
BATCH = 32
SWEEP_AFTER_SECONDS = 30
#: How long a pop that found fewer than :data:`BATCH` events waits for more (the texts' added latency at most).
GATHER_SECONDS = 0.02


def ingest_inbound(event_id: int) -> int | None:
    """Process one event in its own transaction, its analysis queued as a job; idempotent.
    Returns the new message id, if any."""
    with db.session_scope() as session:
        message = flows.ingest_event(session, event_id)
        return message.id if message is not None else None


def _ingest_logged(event_id: int) -> None:
    try:
        ingest_inbound(event_id)
    except Exception:  # one bad event must not block the others; the sweep retries it
        log.exception("inbound event failed; the sweep will retry it", event_id=event_id)


def answer_events(event_ids: Sequence[int]) -> int:
    """Take in and answer ``event_ids`` in one transaction, then send the replies; returns how many
    messages were answered in the batch (0 when it failed and the events went one by one)."""
    intake = _answer(event_ids)
    if intake is None:
        return 0
    _send(intake.sends)
    return len(intake.handled)


def _answer(event_ids: Sequence[int]) -> Intake | None:
    """The batch taken in and answered, committed, its conversations' locks released; ``None`` when it
    failed and its events were taken in one by one."""
    try:
        with ExitStack() as locks, db.session_scope() as session:  # commit, then release the locks
            return take_in(session, event_ids, locks=locks)
    except Exception:
        log.exception("inbound batch failed; its events are taken in one by one", events=len(event_ids))
        for event_id in event_ids:
            _ingest_logged(event_id)
        return None


def _send(sends: Mapping[str, Sequence[int]]) -> None:
    flows.send_held(sends, lambda ids: get_engine().send_batch(ids, owner=claim_owner()))


def drain_inbound() -> int:
    """Take in and answer every announced event; returns how many ids were taken.

    A batch's replies are sent on the job's sending thread while the next batch is answered; before
    the next send, and before the job ends (an empty pop then looks again for texts that came
    meanwhile), the previous send is waited for, so its failure fails the job as before. On SQLite
    (one writer: the send would wait for the next batch's commit) each send is waited for at once."""
    overlap = db.engine().dialect.name != "sqlite"
    client = get_redis(get_settings())
    flows.drain_started(client)
    taken = 0
    sending: list[Future[None]] = []  # the previous batch's send, at most one

    def settle() -> None:
        while sending:
            sending.pop().result()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relais-inbound-send") as sender:
        try:
            while True:
                raw = _gather(client, _pop(client))
                if not raw:
                    if not sending:
                        return taken
                    settle()
                    continue
                intake = _answer([int(event_id) for event_id in raw])
                taken += len(raw)
                settle()
                if intake is not None and intake.sends:
                    sending.append(sender.submit(_send, intake.sends))
                    if not overlap:
                        settle()
        finally:
            settle()


def _pop(client: Any, count: int | None = None) -> list[bytes] | None:
    """Clear the "drain scheduled" flag, then pop up to ``count`` ids (:data:`BATCH`): one round trip, the two
    commands run in this order (an id pushed after the pop finds the flag down and schedules a drain)."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(flows.DRAIN_SCHEDULED_KEY)
    pipe.lpop(flows.PENDING_INBOUND_KEY, count or BATCH)
    raw: list[bytes] | None = pipe.execute()[1]
    return raw


def _gather(client: Any, raw: list[bytes] | None) -> list[bytes] | None:
    """``raw`` topped up with the ids pushed in the next :data:`GATHER_SECONDS` when it holds at least one
    and fewer than :data:`BATCH`. Meanwhile the "drain scheduled" flag is up (``flows.drain_gathering``), so
    those texts wait for this drain rather than start another that would answer them a few at a time; the
    top-up is a normal pop (the flag cleared first), so an id pushed after it schedules a drain as before."""
    if not raw or len(raw) >= BATCH or GATHER_SECONDS <= 0:
        return raw
    flows.drain_gathering(client)
    time.sleep(GATHER_SECONDS)
    return raw + (_pop(client, BATCH - len(raw)) or [])


def sweep_inbound(older_than_seconds: float = SWEEP_AFTER_SECONDS) -> int:
    """Periodic: process events still unprocessed after ``older_than_seconds``; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with db.session_scope() as session:
        ids = list(session.scalars(unprocessed_before(cutoff, limit=1000)))
    for event_id in ids:
        _ingest_logged(event_id)
    return len(ids)
