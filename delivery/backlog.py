"""What waits to go out, for operators: texts in flight by status and wait reason, and how late the oldest due one is.

Read from the database when Prometheus scrapes (``api/operations_metrics.py``), so every API host reports the
same figures whichever worker sends: a counter kept inside one worker process would show only its own share, and
nothing at all for workers that expose no port. The alert that matters is :attr:`OutboundBacklog.oldest_due_seconds`:
a text whose planned time has passed and that no worker has claimed (workers down, or far behind). Texts held on
purpose (quiet hours, a schedule, a provider's pause) are counted under their ``wait_reason`` and are not late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from conversations.models import IN_FLIGHT, Message

#: how far back :attr:`OutboundBacklog.recent` counts the outcome of outbound texts
RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class OutboundBacklog:
    """``waiting``: (status, wait_reason) → texts in flight; ``oldest_due_seconds``: how long the oldest queued text
    that may go now has been due (0 when none is); ``recent``: status → outbound texts created in the last hour."""

    waiting: dict[tuple[str, str], int]
    oldest_due_seconds: float
    recent: dict[str, int]


def _aware_seconds(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max((now - then).total_seconds(), 0.0)


def outbound_backlog(session: Session, now: datetime) -> OutboundBacklog:
    """The figures at ``now`` (UTC, aware). Three queries: two on the status index (in-flight rows only), one on
    ``created_at`` for the last hour."""
    waiting = {
        (status, reason or "none"): int(count)
        for status, reason, count in session.execute(
            select(Message.status, Message.wait_reason, func.count())
            .where(Message.status.in_(IN_FLIGHT), Message.direction == "out")
            .group_by(Message.status, Message.wait_reason)
        )
    }
    due_since = session.scalar(
        select(func.min(func.coalesce(Message.not_before, Message.created_at))).where(
            Message.status == "queued", or_(Message.not_before.is_(None), Message.not_before <= now)
        )
    )
    recent = {
        status: int(count)
        for status, count in session.execute(
            select(Message.status, func.count())
            .where(Message.direction == "out", Message.created_at >= now - RECENT)
            .group_by(Message.status)
        )
    }
    return OutboundBacklog(waiting=waiting, oldest_due_seconds=_aware_seconds(now, due_since), recent=recent)
