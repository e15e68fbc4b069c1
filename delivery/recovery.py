"""Recovery of sends interrupted by a crash: the periodic sweep behind at-least-once, no-duplicate delivery.

A row stuck in ``sending`` past the lease had its worker die (or its call time out):

1. its send is in the journal → the provider accepted it: record ``sent``, never send again;
2. a delivery report with its ``client_ref`` arrived meanwhile → already adopted by
   :func:`delivery.states.apply_delivery_report` (the row is no longer ``sending``);
3. neither, after a lease long enough for the provider's first report to arrive → the provider
   never took it: back to ``queued`` and sent again.

A claim stamped with its worker's name (``delivery.store.claim``) does not wait for the lease when
that worker is gone: after a Redis outage or a crash, once its registration has been missing for
:data:`OWNER_GRACE_SECONDS`, the row is reconciled as above (journal, else back to ``queued``).

``queued`` rows whose wake-up job never ran (Redis lost it, a commit hook failed) are found by
their planned time: overdue by more than the lease past ``not_before`` (never earlier, so a message
planned for tomorrow 08:00 is not an orphan tonight; a paused campaign's rows wait for resume).
Before anything is re-enqueued the authority (:mod:`delivery.authority`) decides again, at the
recovery's clock: a quiet-hours, paused, throttled or expired message is held, moved to its next
opening or closed, exactly as the send job's claim would; only rows that may go now get a job
(the claim makes a duplicate job harmless).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations.flows import send_job
from conversations.models import Message
from core import db
from core.db import utcnow
from core.queue import enqueue_after_commit, live_workers
from delivery import authority, journal, store

log = structlog.get_logger("relais.delivery.recovery")

LEASE_SECONDS = 600
# longer than a running worker can go without re-asserting its registration (RQ's 30 s heartbeat)
OWNER_GRACE_SECONDS = 120
BATCH = 100


@dataclass(frozen=True)
class RecoveryReport:
    adopted: int  # stuck sends the journal proved accepted: recorded, never sent again
    requeued: int  # stuck sends the provider never took: back to queued
    reenqueued: int  # due rows handed to a send job
    held: int  # rows the authority made wait (window, pause, throttle)
    rejected: int  # rows the authority closed (expired, consent, campaign cancelled)


def _abandoned(client: redis.Redis, session: Session, *, now: datetime, known: set[int]) -> list[Message]:
    """``sending`` rows, younger than the lease, whose named worker is no longer registered."""
    claims = [
        r for r in store.owned_claims(session, now=now, older_than=timedelta(seconds=OWNER_GRACE_SECONDS))
        if r.id not in known
    ]
    alive = live_workers(client, {store.owner_of(r.claim_token) for r in claims})
    return [r for r in claims if store.owner_of(r.claim_token) not in alive]


def recover(
    client: redis.Redis, *, lease_seconds: float = LEASE_SECONDS, now: datetime | None = None
) -> RecoveryReport:
    """Reconcile stuck ``sending`` rows and re-enqueue orphaned ``queued`` ones (see the module doc)."""
    moment = now or utcnow()
    lease = timedelta(seconds=lease_seconds)
    with db.session_scope() as session:
        rows = store.stuck(session, now=moment, older_than=lease)
        rows += _abandoned(client, session, now=moment, known={r.id for r in rows})
        done = journal.read(client, [r.id for r in rows])
        store.record_sent(session, done, token_of={r.id: r.claim_token for r in rows if r.id in done})
        lost = [r.id for r in rows if r.id not in done]
        store.requeue(session, lost, at=None)
        session.expire_all()
        # the lost rows are overdue too (claimed before the lease), so they are among the orphans;
        # those released early because their worker is gone may be younger: added by id
        orphans = store.orphaned(session, now=moment, older_than=lease)
        young = set(lost) - {r.id for r in orphans}
        if young:
            orphans += session.scalars(select(Message).where(Message.id.in_(young)).order_by(Message.id))
        ready, _ = authority.enforce(session, orphans, now=moment)  # handed to send jobs: their claim decides again
        by_lane: dict[str, list[int]] = defaultdict(list)
        for row in ready:
            by_lane[row.lane].append(row.id)
        for lane, ids in by_lane.items():
            for start in range(0, len(ids), BATCH):
                enqueue_after_commit(session, send_job(ids[start : start + BATCH], lane=lane, attempt=9999))
        going = {r.id for r in ready}
        held = sum(1 for r in orphans if r.status == "queued" and r.id not in going)
        found = RecoveryReport(adopted=len(done), requeued=len(lost), reenqueued=len(ready), held=held,
                               rejected=len(orphans) - len(ready) - held)
    journal.forget(client, done)
    if rows or orphans:
        log.warning("recovered interrupted sends", **vars(found))
    return found
