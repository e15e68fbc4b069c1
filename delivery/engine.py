"""Send a batch of messages: claim → authority → sender → limiter → concurrent provider calls → record.

One RQ job carries a batch (RQ runs ~145 jobs/s per worker, far below the target rate), and the
batch is sent by the engine's ``concurrency`` lanes, threads that live as long as the engine, so provider
round trips overlap; a lane books the slots of a few messages at once (``reservations_per_call``, the
soonest among the first pending message of each sender) in one Redis round trip, which also carries the
journal entries of the previous sends (:mod:`delivery.lanes`). A send job may hand its batch to the lanes
and return while they send it (``wait=False``): the worker claims its next batch and applies delivery
reports meanwhile, where the lanes sat idle before. Every provider call waits for a
limiter slot of its sender and of its provider account. Only due rows are claimed
(``not_before <= now``), and the authority (:mod:`delivery.authority`) has the last word before
the provider call: consent, campaign state, send window, cap, expiry. Per message:

* accepted → journal (Redis) → ``sent``; delivery reports move it on (``delivered``, ``failed``...).
* retryable error → ``queued`` again with exponential backoff and jitter (``wait_reason`` ``retry``),
  then ``dead``; a retry that comes due outside the recipient's window waits for the next opening.
* permanent error → ``failed`` with the provider's code and reason.
* outcome unknown (timeout after the request left) → stays ``sending``: recovery decides after the
  lease, once the provider's delivery report had time to arrive (see :mod:`delivery.recovery`).
* limiter slot too far away → ``queued`` again for when the slot comes (``rate_limited``), no attempt
  counted.
* still in the lanes at its deadline (the authority's: its send window closed, it expired; or the claim's,
  :data:`CLAIM_GOOD_FOR`) → ``queued`` again at once (``held``), no attempt counted: the authority decides
  at the next claim. A lane compares the engine's clock with it right before the provider call.
* provider says "slow down" (HTTP 429, SMS API "Throttled", SMPP throttling: ``ChannelError.throttled_for``) →
  its provider account is paused in the shared limiter for the wait it asked (at most ``max_throttle_pause``), so
  no worker fires the next messages into the same wall, and the message is ``queued`` again for the pause's end
  (``provider_throttled``), no attempt counted: it was never accepted. Messages of that account claimed during
  the pause are deferred to its end the same way; other accounts send on.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import redis
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.base import Channel, ChannelError, OutboundMessage
from conversations.flows import send_job
from conversations.models import Message
from conversations.service import client_ref
from core import db
from core.db import utcnow
from core.queue import enqueue_after_commit
from delivery import authority, journal, store
from delivery.lanes import Batch, BatchReport, BookingFailed, JournalBuffer, LaneQueue, Outcome
from delivery.limiter import Bucket, Grant, RateLimiter, account_bucket, sender_bucket
from delivery.policy import RetryPolicy
from delivery.recovery import LEASE_SECONDS

log = structlog.get_logger("relais.delivery")

#: How long after its claim the lanes may still send a message. Behind a slow provider (10 s per call, ten lanes,
#: hundreds claimed) a claim can wait in the lanes past recovery's lease, which then sends it again elsewhere;
#: this ends two minutes before the lease, so a call begun at the end (10 s at most) and its journal entry are
#: done before recovery may take the claim back.
CLAIM_GOOD_FOR = timedelta(seconds=LEASE_SECONDS - 120)
#: what a message handed back at its deadline says while it waits for the authority's next decision
LATE = "held before sending: its send window closed, it expired or its claim grew old while it waited to be sent"


class DeliveryEngine:
    """Sends batches through one channel; thread-safe, build one per process.

    ``concurrency`` (provider calls in flight, ``RELAIS_SEND_CONCURRENCY`` in a worker) should not
    exceed the adapter's connection pool (the Vonage adapter sizes its pool from the same setting):
    beyond it every extra call opens, and drops, a new TLS connection.
    """

    def __init__(
        self,
        *,
        channel: Channel,
        client: redis.Redis,
        concurrency: int = 10,
        retry: RetryPolicy | None = None,
        max_limiter_wait: float = 2.0,
        default_account_rate: float = 30.0,
        reservations_per_call: int = 4,
        candidates_per_call: int = 16,
        keep_ahead: int = 250,
        max_throttle_pause: float = 300.0,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.channel = channel
        self._redis = client
        self._lane = threading.local()  # each sending thread's own limiter (see _lane_limiter)
        self._lane_clients: list[redis.Redis] = []
        self._lanes: list[threading.Thread] = []
        self._lanes_lock = threading.Lock()
        self._concurrency = concurrency
        self._retry = retry or RetryPolicy()
        self._max_wait = max_limiter_wait
        self._queue = LaneQueue(group=reservations_per_call, offer=candidates_per_call)
        self._unjournalled = JournalBuffer(due_at=self._queue.group)
        self._keep_ahead = keep_ahead
        self._max_throttle_pause = max_throttle_pause
        # account → end of its pause (monotonic): the slots this engine's lanes booked before the pause
        self._paused_until: dict[str, float] = {}
        self._default_account_rate = default_account_rate
        self._rng = rng or random.Random()
        self._clock = clock
        self._closed = False
        self._unrecorded = 0  # batches handed to the lanes and not yet recorded
        self._recorded = threading.Condition()

    def send_batch(self, message_ids: Sequence[int], *, owner: str = "", wait: bool = True) -> BatchReport:
        """Send the due ``queued`` messages among ``message_ids``; others are left alone (idempotent).

        ``owner``: the worker running this batch, stamped on the claim (``delivery.store.claim``).
        ``wait``: return once the batch is sent and recorded (its failure to record raised); else once it is
        handed to the lanes and at most ``keep_ahead`` messages of this engine are left to send: enough to
        keep the senders busy while the worker claims its next batch, and few enough that a claim never
        waits long in the lanes (the report then counts what was claimed, not yet what was sent).
        """
        report = BatchReport()
        now = self._clock()
        with db.session_scope() as session:
            token, rows = store.take(session, message_ids, now=now, owner=owner)
            report.claimed = len(rows)
            allowed, deadlines = authority.enforce(session, rows, now=now, claiming=True)
            outgoing = store.prepare(
                session, allowed, channel=self.channel.name, default_account_rate=self._default_account_rate,
                claim=(token, now), deadlines=deadlines, latest=now + CLAIM_GOOD_FOR,
            )
            report.rejected = sum(1 for r in rows if r.status in ("rejected", "expired"))
            report.waiting = sum(1 for r in rows if r.status == "queued")
            report.dead = sum(1 for r in rows if r.status == "dead")
        if not outgoing:
            return report
        batch = Batch(token=token, size=len(outgoing), report=report)
        self._start_lanes()
        with self._recorded:
            self._unrecorded += 1
        self._queue.add(batch, outgoing)
        if not wait:
            self._queue.wait_until_at_most(self._keep_ahead)
            return report
        batch.recorded.wait()
        if batch.error is not None:
            raise batch.error
        return report

    def _start_lanes(self) -> None:
        """Start the lanes on the first batch (daemon threads: :meth:`close` ends them, after their work)."""
        with self._lanes_lock:
            if self._closed:
                raise RuntimeError("the delivery engine is closed")
            while len(self._lanes) < self._concurrency:
                lane = threading.Thread(target=self._run_lane, name=f"relais-send-{len(self._lanes)}", daemon=True)
                lane.start()
                self._lanes.append(lane)

    def _run_lane(self) -> None:
        """Send messages, each taken when this lane is free, until the engine closes. Lanes take the next
        message when they are free (not a fixed share each): a lane held up by a slow provider answer or a
        far limiter slot keeps nothing waiting behind it. The lane sending a batch's last message records
        the batch.
        """
        limiter = self._lane_limiter()
        unjournalled = self._unjournalled

        def book(offered: list[store.Outgoing], take: int) -> list[Grant | None]:
            writes = unjournalled.take()
            try:
                return limiter.reserve_soonest([self._buckets(m) for m in offered], take=take,
                                               max_wait=self._max_wait, writes=writes,
                                               holds=[m.holds for m in offered])
            finally:
                unjournalled.written(writes)

        def write() -> None:
            unjournalled.flush(lambda entries: limiter.reserve_many([], max_wait=0, writes=entries))

        while True:
            try:
                taken = self._queue.next(book, journal_due=unjournalled.due, write=write)
            except BookingFailed as failed:  # nothing reached the provider: a retry is safe
                log.exception("send lane could not book limiter slots", messages=len(failed.offered))
                error = ChannelError(f"rate limiter unreachable: {failed.__cause__}", retryable=True)
                for message, batch in failed.offered:
                    if batch.add(Outcome(message, error=error)):
                        self._record(batch, write)
                continue
            if taken is None:
                return
            message, batch, grant, booked = taken
            outcome = self._send_one(message, grant, booked)
            if outcome.error is not None and outcome.error.throttled_for is not None:
                self._pause(limiter, message, outcome.error)
            if outcome.result is not None:
                unjournalled.add(journal.entry(message.id, outcome.result))
            if batch.add(outcome):
                self._record(batch, write)

    def _record(self, batch: Batch, write: Callable[[], None]) -> None:
        """Store a batch's outcomes once every acceptance of it is in the journal (recovery's proof of a
        send if storing them fails: the rows stay ``sending``, the error goes to a waiting caller)."""
        report = batch.report
        try:
            try:
                write()
            except Exception:  # the database is the record; the journal only covers a crash before it
                log.exception("could not journal a batch's sends before recording them")
            sent = {o.message.id: o.result for o in batch.outcomes if o.result is not None}
            with db.session_scope() as session:
                store.record_sent(session, sent, token_of={i: batch.token for i in sent})
                self._record_failures(session, [o for o in batch.outcomes if o.result is None], report,
                                      now=self._clock(), token=batch.token)
            journal.forget(self._redis, sent)
            report.sent = len(sent)
        except Exception as exc:
            log.exception("could not record a sent batch; recovery will reconcile it", messages=batch.size)
            batch.error = exc
        finally:
            batch.recorded.set()
            with self._recorded:
                self._unrecorded -= 1
                self._recorded.notify_all()

    def flush(self) -> None:
        """Return once every batch handed to the lanes is sent and recorded (a send job may return before)."""
        with self._recorded:
            self._recorded.wait_for(lambda: self._unrecorded == 0)

    def throttle_pause(self, error: ChannelError) -> float:
        """Seconds a throttled account is paused for ``error``: the wait the provider asked, at most
        ``max_throttle_pause`` (a provider asking for an hour does not hold the queue for an hour)."""
        return min(max(error.throttled_for or 0.0, 0.0), self._max_throttle_pause)

    def _pause(self, limiter: RateLimiter, message: store.Outgoing, error: ChannelError) -> None:
        """Pause the message's provider account in the shared limiter, at once: the lanes of every worker
        book none of its next messages before the wait ends (a failure to pause only loses the pause)."""
        seconds = self.throttle_pause(error)
        asked = error.throttled_for or 0.0
        account = message.sender.provider_account
        self._paused_until[account] = max(self._paused_until.get(account, 0.0), time.monotonic() + seconds)
        try:
            limiter.pause(self._buckets(message)[1], seconds)
        except redis.RedisError:
            log.exception("could not pause a throttled provider account", account=account)
        log.warning("provider asked to slow down: account paused", account=account,
                    sender=message.sender.address, seconds=round(seconds, 1), asked=round(asked, 1),
                    capped=asked > seconds, error=error.message)

    def _buckets(self, message: store.Outgoing) -> tuple[Bucket, Bucket]:
        return (
            sender_bucket(message.sender.address, message.sender.throughput),
            account_bucket(message.sender.provider_account, message.account_rate),
        )

    def _lane_limiter(self) -> RateLimiter:
        """The calling sending thread's limiter, on a Redis connection of its own, made on first use.

        A lane sends one command at a time, so it needs no pool: the engine's pooled client lends and
        takes back a connection per command (its lock, and a check of the socket for stray data),
        which cost a send worker about a third of each reservation's processor time (in process,
        ~300 vs ~210 µs per reservation on a loaded machine).
        """
        limiter: RateLimiter | None = getattr(self._lane, "limiter", None)
        if limiter is None:
            pool = self._redis.connection_pool
            client = redis.Redis(
                connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs),
                single_connection_client=True,
            )
            with self._lanes_lock:
                self._lane_clients.append(client)
            limiter = self._lane.limiter = RateLimiter(client)
        return limiter

    def _send_one(self, message: store.Outgoing, grant: Grant, booked: float) -> Outcome:
        """Send ``message`` at its slot (``grant``, booked at ``booked`` on the monotonic clock)."""
        if grant.held:
            return Outcome(message, held=True)
        if not grant.granted:
            return Outcome(message, defer_seconds=grant.wait, paused=grant.paused)
        delay = booked + grant.wait - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # the last step before the provider call: the authority's go (and the claim) lapse at the deadline
        if message.deadline is not None and self._clock() >= message.deadline:
            return Outcome(message, held=True, late=True)
        # a slot booked before a provider's pause (up to the longest wait ahead) is not fired into it
        paused = self._paused_until.get(message.sender.provider_account, 0.0) - time.monotonic()
        if paused > 0:
            return Outcome(message, defer_seconds=paused, paused=True)
        outbound = OutboundMessage(
            to=message.to,
            sender=message.sender.address,
            text=message.text,
            media=message.media,
            client_ref=client_ref(message.id),
        )
        try:
            result = self.channel.send(message=outbound)
        except ChannelError as exc:
            return Outcome(message, error=exc)
        except Exception as exc:  # an adapter bug must not lose the batch: treat as retryable
            log.exception("channel raised an unexpected error", message_id=message.id)
            return Outcome(message, error=ChannelError(f"{type(exc).__name__}: {exc}", retryable=True))
        return Outcome(message, result=result)

    def _record_failures(
        self, session: Session, outcomes: list[Outcome], report: BatchReport, *, now: datetime, token: str
    ) -> None:
        if not outcomes:  # the usual batch: nothing failed, nothing to read back
            return
        retry_at: dict[tuple[str, int], list[int]] = defaultdict(list)
        defer_at: dict[tuple[str, int], list[int]] = defaultdict(list)
        held: dict[tuple[str, bool], list[int]] = defaultdict(list)
        throttled: dict[tuple[str, int], list[int]] = defaultdict(list)
        paused: dict[tuple[str, int], list[int]] = defaultdict(list)
        rows = {
            m.id: m for m in session.scalars(select(Message).where(Message.id.in_([o.message.id for o in outcomes])))
        }
        for outcome in outcomes:
            message, row = outcome.message, rows[outcome.message.id]
            if outcome.held:
                held[(message.lane, outcome.late)].append(message.id)
                report.held += 1
                continue
            if outcome.defer_seconds is not None:
                later = paused if outcome.paused else defer_at
                later[(message.lane, int(outcome.defer_seconds) + 1)].append(message.id)
                report.deferred += 1
                continue
            error = outcome.error
            assert error is not None
            if error.throttled_for is not None and error.retryable:
                row.error_code, row.error_reason = (error.provider_code or "throttled")[:40], error.message[:500]
                throttled[(message.lane, math.ceil(self.throttle_pause(error)))].append(message.id)
                report.throttled += 1
                continue
            if error.outcome_unknown:
                log.warning("send outcome unknown; recovery will reconcile", message_id=message.id)
                report.unknown += 1
                continue
            code = error.provider_code or ("retryable" if error.retryable else "permanent")
            if not error.retryable:
                store.close(session, row, status="failed", code=code, reason=error.message)
                report.failed += 1
            elif self._retry.exhausted(message.attempts):
                store.close(
                    session,
                    row,
                    status="dead",
                    code=code,
                    reason=f"gave up after {message.attempts} attempts: {error.message}",
                )
                report.dead += 1
            else:
                row.error_code, row.error_reason = code[:40], error.message[:500]
                delay = self._retry.delay(message.attempts, self._rng)
                retry_at[(message.lane, message.attempts)].append(message.id)
                store.requeue(
                    session,
                    [message.id],
                    at=now + timedelta(seconds=delay),
                    reason="retry",
                    detail=f"retry {message.attempts + 1} of {self._retry.max_attempts} after: {error.message}",
                    token=token,
                )
                report.retried += 1
        for (lane, attempt), ids in retry_at.items():
            # one job per lane and attempt, due when the latest of its messages is
            due = session.scalar(select(func.max(Message.not_before)).where(Message.id.in_(ids)))
            enqueue_after_commit(session, send_job(ids, lane=lane, at=due, attempt=attempt))
        for (lane, seconds), ids in defer_at.items():
            at = now + timedelta(seconds=seconds)
            store.requeue(
                session,
                ids,
                at=at,
                reason="rate_limited",
                detail=f"sender or account rate limit: next slot in {seconds} s",
                undo_attempt=True,
                token=token,
            )
            enqueue_after_commit(session, send_job(ids, lane=lane, at=at, attempt=1000 + seconds))
        for (lane, seconds), ids in throttled.items():
            at = now + timedelta(seconds=seconds)
            store.requeue(session, ids, at=at, reason="provider_throttled",
                          detail=f"the provider asked to slow down: its account paused {seconds} s, until "
                                 f"{at:%H:%M:%S} UTC (no attempt counted)", undo_attempt=True, token=token)
            enqueue_after_commit(session, send_job(ids, lane=lane, at=at, attempt=int(at.timestamp())))
        for (lane, seconds), ids in paused.items():
            at = now + timedelta(seconds=seconds)
            store.requeue(session, ids, at=at, reason="provider_throttled",
                          detail=f"the provider asked to slow down: its account paused until {at:%H:%M:%S} UTC",
                          undo_attempt=True, token=token)
            enqueue_after_commit(session, send_job(ids, lane=lane, at=at, attempt=int(at.timestamp())))
        for (lane, late), ids in held.items():
            # the lanes never decide a pause, a consent or a window: the authority does, at the next claim (now)
            store.requeue(session, ids, at=now, reason="held",
                          detail=LATE if late else "held before sending: campaign paused or cancelled, or contact "
                                                   "opted out", undo_attempt=True, token=token)
            enqueue_after_commit(session, send_job(ids, lane=lane, attempt=int(now.timestamp())))
        session.flush()

    def close(self) -> None:
        """Send and record what the lanes hold, then end them and close the connections (idempotent)."""
        with self._lanes_lock:
            self._closed = True
            lanes, self._lanes = self._lanes, []
        self._queue.stop()
        for lane in lanes:
            lane.join()
        with self._lanes_lock:
            clients, self._lane_clients = self._lane_clients, []
        for client in clients:
            client.close()
        self.channel.close()
