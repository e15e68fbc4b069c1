"""Inbound texts stored but not yet taken in, for operators and the periodic sweep.

A provider's webhook stores each text before anything else happens (``conversations.flows.store_inbound``); an
ingest worker then takes it in. A text still unprocessed minutes later means the announcement was lost or the
workers are down or behind: the sweep (``workers.delivery.ingest.sweep_inbound``) retries it and the operators'
metrics (``api/operations_metrics.py``) show how many wait and for how long. Both read the events through
``ix_inbound_events_unprocessed``, a partial index holding only unprocessed rows, so their cost does not grow with
every text ever received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from conversations.models import InboundEvent


@dataclass(frozen=True)
class InboundBacklog:
    """``unprocessed``: stored texts not taken in yet; ``oldest_seconds``: how long the oldest has waited (0: none)."""

    unprocessed: int
    oldest_seconds: float


def unprocessed_before(cutoff: datetime, *, limit: int) -> Select[int]:
    """Ids of the events stored before ``cutoff`` and never taken in, oldest first (the sweep's query)."""
    return (
        select(InboundEvent.id)
        .where(InboundEvent.processed_at.is_(None), InboundEvent.created_at <= cutoff)
        .order_by(InboundEvent.id)
        .limit(limit)
    )


def inbound_backlog(session: Session, now: datetime) -> InboundBacklog:
    """The figures at ``now`` (UTC, aware)."""
    count, oldest = session.execute(
        select(func.count(), func.min(InboundEvent.created_at)).where(InboundEvent.processed_at.is_(None))
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return InboundBacklog(
        unprocessed=int(count), oldest_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    )
