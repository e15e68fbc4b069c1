"""Recovery of sends interrupted by a crash: the periodic sweep behind at-least-once, no-duplicate delivery.

A row stuck in ``sending`` past the lease had its worker die (or its call time out):

1. its send is in the journal → the provider accepted it: record ``sent``, never send again;
2. a delivery report with its ``client_ref`` arrived meanwhile → already adopted by
   :func:`delivery.states.apply_delivery_report` (the row is no longer ``sending``);
3. neither, after a lease long enough for the provider's first report to arrive → the provider
   never took it: back to ``queued`` and sent again.

``queued`` rows whose job never ran (Redis lost it, a commit hook failed) are re-enqueued too;
the claim makes a duplicate job harmless.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import redis
import structlog

from conversations.flows import send_job
from core import db
from core.queue import enqueue_after_commit
from delivery import journal, store

log = structlog.get_logger("relais.delivery.recovery")

LEASE_SECONDS = 600
BATCH = 100


@dataclass(frozen=True)
class RecoveryReport:
    adopted: int
    requeued: int
    reenqueued: int


def recover(client: redis.Redis, *, lease_seconds: float = LEASE_SECONDS) -> RecoveryReport:
    """Reconcile stuck ``sending`` rows and re-enqueue orphaned ``queued`` ones (see the module doc)."""
    lease = timedelta(seconds=lease_seconds)
    with db.session_scope() as session:
        rows = store.stuck(session, older_than=lease)
        done = journal.read(client, [r.id for r in rows])
        store.record_sent(session, done, token_of={r.id: r.claim_token for r in rows if r.id in done})
        lost = [r for r in rows if r.id not in done]
        store.requeue(session, [r.id for r in lost], at=None)
        orphans = store.orphaned(session, older_than=lease)
        by_lane: dict[str, list[int]] = defaultdict(list)
        for row in lost:
            by_lane[row.lane].append(row.id)
        for message_id, lane in orphans:
            by_lane[lane].append(message_id)
        for lane, ids in by_lane.items():
            for start in range(0, len(ids), BATCH):
                enqueue_after_commit(session, send_job(ids[start : start + BATCH], lane=lane, attempt=9999))
    journal.forget(client, done)
    if rows or orphans:
        log.warning("recovered interrupted sends", adopted=len(done), requeued=len(lost), reenqueued=len(orphans))
    return RecoveryReport(adopted=len(done), requeued=len(lost), reenqueued=len(orphans))
