"""One text sent later through the API (``send_at``): when it may go, and what it says while it waits.

An integrator schedules a reminder or a follow-up the way Twilio's Message Scheduling does: the text is stored
``queued`` now with ``not_before`` at the planned time, and the delivery authority decides when it is due as for
any other (consent, the send window of its lane, a STOP received meanwhile), so scheduling promises no more than
the time it may go at the earliest. Until a worker claims it, it can be cancelled (``delivery.cancel``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ValidationFailed

#: how far ahead a text may be planned (Twilio's limit): a date further away is more likely a typo than a plan
MAX_AHEAD = timedelta(days=35)
#: a ``send_at`` up to this far in the past means "now" (the minute it was typed in), beyond it is refused
PAST_TOLERANCE = timedelta(minutes=5)


def planned_time(send_at: datetime | None, *, expires_at: datetime | None, now: datetime) -> datetime | None:
    """The ``not_before`` of a text asked for at ``send_at`` (None: as soon as it may go).

    Raises:
        ValidationFailed: ``send_at`` too far in the past or more than :data:`MAX_AHEAD` ahead, or not before
            ``expires_at`` (the text could never go).
    """
    if send_at is None:
        return None
    at = send_at if send_at.tzinfo else send_at.replace(tzinfo=UTC)
    if at < now - PAST_TOLERANCE:
        raise ValidationFailed("send_at is in the past", errors=[{"field": "send_at", "reason": "past"}])
    if at > now + MAX_AHEAD:
        raise ValidationFailed(f"send_at may be at most {MAX_AHEAD.days} days ahead",
                               errors=[{"field": "send_at", "reason": "too_far"}])  # fmt: skip
    if expires_at is not None and (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)) <= at:
        raise ValidationFailed("expires_at must be after send_at: the text could never go",
                               errors=[{"field": "expires_at", "reason": "before_send_at"}])  # fmt: skip
    return at if at > now else None


def planned_detail(at: datetime, timezone: str | None) -> str:
    """``wait_detail`` of a scheduled text, in the recipient's time zone when known (as campaigns say it)."""
    try:
        zone = ZoneInfo(timezone) if timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = at.astimezone(zone)
    return f"scheduled for {local:%a %d %b %H:%M} {getattr(zone, 'key', 'UTC')}"
