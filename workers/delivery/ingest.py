"""Jobs turning stored inbound events into messages (contact, thread, agent pipeline queued).

Webhooks push event ids to a Redis list and schedule one :func:`drain_inbound` job when none is
scheduled; the job clears the flag before each pop, so an id pushed while it runs either is
popped by it or schedules a new job. :func:`sweep_inbound` (periodic) catches events whose
announcement was lost or whose processing failed.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select

from conversations import flows
from conversations.models import InboundEvent
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import get_settings

log = structlog.get_logger("relais.inbound")

DRAIN_BATCH = 200
SWEEP_AFTER_SECONDS = 30


def ingest_inbound(event_id: int) -> int | None:
    """Process one event in its own transaction; idempotent. Returns the new message id, if any."""
    with db.session_scope() as session:
        message = flows.ingest_event(session, event_id)
        return message.id if message is not None else None


def _ingest_logged(event_id: int) -> None:
    try:
        ingest_inbound(event_id)
    except Exception:  # one bad event must not block the others; the sweep retries it
        log.exception("inbound event failed; the sweep will retry it", event_id=event_id)


def drain_inbound() -> int:
    """Process every announced event; returns how many ids were taken."""
    client = get_redis(get_settings())
    taken = 0
    while True:
        client.delete(flows.DRAIN_SCHEDULED_KEY)
        raw: list[bytes] | None = client.lpop(flows.PENDING_INBOUND_KEY, DRAIN_BATCH)  # type: ignore[assignment]
        if not raw:
            return taken
        for event_id in raw:
            _ingest_logged(int(event_id))
        taken += len(raw)


def sweep_inbound(older_than_seconds: float = SWEEP_AFTER_SECONDS) -> int:
    """Periodic: process events still unprocessed after ``older_than_seconds``; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with db.session_scope() as session:
        ids = list(
            session.scalars(
                select(InboundEvent.id)
                .where(InboundEvent.processed_at.is_(None), InboundEvent.created_at <= cutoff)
                .order_by(InboundEvent.id)
                .limit(1000)
            )
        )
    for event_id in ids:
        _ingest_logged(event_id)
    return len(ids)
