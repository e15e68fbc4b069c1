"""Per-contact marketing fatigue: how many texts in a window a contact still answers, from their own history.

For each marketing text a contact received in the last ``HISTORY_DAYS`` (reached the provider and
was not reported failed) we know its *recent frequency* — how many marketing texts that contact
had received in the ``window`` ending with it, itself included — and whether it was followed by
engagement (a click, a reply or a purchase, ``contacts.models.EngagementEvent``) within
``ATTRIBUTION``. The learned cap is the highest frequency at which the contact still engaged,
and only when the history shows fatigue: at least ``MIN_SENDS`` texts, some engagement, and at
least ``MIN_IGNORED_ABOVE`` texts sent at a higher frequency, all ignored. Otherwise there is no
learned cap (too little history, never engaged, or engaged at the highest frequency tried) and
the campaign's own cap governs.

The delivery authority (``delivery.authority``) reads it for campaigns that opt in
(``Campaign.learned_cap``) and applies the smaller of the campaign cap and the learned one.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from campaigns.scheduling import aware
from contacts.models import EngagementEvent
from conversations.models import Message

HISTORY_DAYS = 180
ATTRIBUTION = timedelta(days=3)
MIN_SENDS = 8
MIN_IGNORED_ABOVE = 3
ENGAGEMENT_KINDS = ("clicked", "replied", "purchased")
#: marketing texts that reached the phone as far as we know
REACHED = ("sent", "delivered", "unknown")


@dataclass(frozen=True)
class Fatigue:
    """A contact's learned cap (None: no evidence of fatigue) and why."""

    cap: int | None
    sends: int
    engaged: int
    reason: str


def learn(sends: Sequence[datetime], engagements: Sequence[datetime], *, window: timedelta) -> Fatigue:
    """The learned cap of one contact from the times of their marketing texts and engagement events."""
    sends, engagements = sorted(sends), sorted(engagements)
    if len(sends) < MIN_SENDS:
        return Fatigue(None, len(sends), 0, f"fewer than {MIN_SENDS} marketing texts in {HISTORY_DAYS} days")
    levels: list[tuple[int, bool]] = []
    for i, at in enumerate(sends):
        frequency = i + 1 - bisect.bisect_right(sends, at - window, 0, i + 1)
        first = bisect.bisect_right(engagements, at)
        levels.append((frequency, first < len(engagements) and engagements[first] <= at + ATTRIBUTION))
    engaged = [f for f, hit in levels if hit]
    if not engaged:
        return Fatigue(None, len(sends), 0, "never engaged: no frequency shown to work")
    top = max(engaged)
    ignored = sum(1 for f, _ in levels if f > top)
    if ignored < MIN_IGNORED_ABOVE:
        return Fatigue(None, len(sends), len(engaged), f"engaged at {top} texts per window, the most tried")
    return Fatigue(top, len(sends), len(engaged), f"ignored {ignored} texts sent at more than {top} per window")


def learned_caps(session: Session, contact_ids: Iterable[int], *, window_days: int, now: datetime) -> dict[int, int]:
    """Each of ``contact_ids`` with a learned cap (texts per ``window_days``); contacts without one are absent."""
    ids = set(contact_ids)
    if not ids:
        return {}
    since = now - timedelta(days=HISTORY_DAYS)
    sends: dict[int, list[datetime]] = defaultdict(list)
    for contact_id, at in session.execute(
        select(Message.contact_id, Message.sent_at)
        .where(Message.contact_id.in_(ids), Message.lane == "marketing", Message.direction == "out",
               Message.sent_at >= since, Message.sent_at <= now, Message.status.in_(REACHED))
    ):
        if at is not None:  # excluded by the filter; the column is nullable
            sends[contact_id].append(aware(at))
    events: dict[int, list[datetime]] = defaultdict(list)
    for contact_id, at in session.execute(
        select(EngagementEvent.contact_id, EngagementEvent.at)
        .where(EngagementEvent.contact_id.in_(list(sends)), EngagementEvent.kind.in_(ENGAGEMENT_KINDS),
               EngagementEvent.at >= since, EngagementEvent.at <= now)
    ):
        events[contact_id].append(aware(at))
    window = timedelta(days=window_days)
    caps = {c: learn(times, events[c], window=window).cap for c, times in sends.items()}
    return {c: cap for c, cap in caps.items() if cap is not None}


def report(session: Session, campaign: Campaign, *, now: datetime, chunk: int = 5000) -> dict[str, Any]:
    """For a campaign that opted in: how many recipients have a learned cap now, and how many texts it refused."""
    recipients = list(session.scalars(select(Message.contact_id).distinct().where(
        Message.campaign_id == campaign.id, Message.direction == "out")))
    with_cap = sum(len(learned_caps(session, recipients[i:i + chunk], window_days=campaign.frequency_days, now=now))
                   for i in range(0, len(recipients), chunk))
    refused = int(session.scalar(select(func.count()).select_from(Message).where(
        Message.campaign_id == campaign.id, Message.status == "rejected",
        Message.error_reason.like("learned frequency cap%"))) or 0)
    note = (f"{with_cap} of {len(recipients)} recipients have a learned cap" if with_cap else
            "no recipient's history shows fatigue yet (fewer than 8 texts, never answered, or answered at the "
            "highest frequency tried): the campaign cap alone applies")
    return {"recipients": len(recipients), "with_learned_cap": with_cap, "refused": refused, "note": note}
