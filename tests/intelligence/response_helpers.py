"""A small synthetic campaign history with a known signal, for the response model's tests.

Every ``every_days`` days a campaign texts every contact at 18:00 UTC. "Eager" contacts click that
campaign's link within the hour, every time; "silent" ones never respond; "sometimes" contacts reply to
every other campaign. A few contacts were never texted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from contacts.models import EngagementEvent
from conversations.models import Message
from tests.contacts.helpers import create_contact

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def campaign_text(session: Session, contact_id: int, campaign_id: int, at: datetime, status: str = "delivered") -> None:
    """A campaign's text to the contact that reached the phone at ``at``."""
    session.add(
        Message(
            contact_id=contact_id,
            direction="out",
            body="Nouvelle collection",
            campaign_id=campaign_id,
            status=status,
            lane="marketing",
            author_type="campaign",
            created_at=at,
            sent_at=at,
        )
    )


def click(session: Session, contact_id: int, campaign_id: int, at: datetime) -> None:
    session.add(EngagementEvent(contact_id=contact_id, kind="clicked", ref=f"campaign:{campaign_id}", at=at))


def reply(session: Session, contact_id: int, at: datetime, body: str = "Oui, merci") -> None:
    session.add(
        Message(
            contact_id=contact_id, direction="in", body=body, status="received", author_type="customer", created_at=at
        )
    )


def build_history(
    session: Session,
    *,
    campaigns: int = 6,
    per_group: int = 40,
    every_days: int = 7,
    never_texted: int = 3,
    first_contact: int = 100,
) -> dict[str, list[int]]:
    """Contacts by group (``eager``, ``silent``, ``sometimes``, ``none``) with the history above, the last
    campaign ``every_days`` before :data:`NOW`."""
    made: dict[str, list[int]] = {"eager": [], "silent": [], "sometimes": [], "none": []}
    n = first_contact
    for group in ("eager", "silent", "sometimes"):
        for _ in range(per_group):
            made[group].append(create_contact(session, n).id)
            n += 1
    for _ in range(never_texted):
        made["none"].append(create_contact(session, n).id)
        n += 1
    for k in range(campaigns):
        at = (NOW - timedelta(days=every_days * (campaigns - k))).replace(hour=18, minute=0)
        campaign_id = k + 1
        for group in ("eager", "silent", "sometimes"):
            for contact_id in made[group]:
                campaign_text(session, contact_id, campaign_id, at)
                if group == "eager":
                    click(session, contact_id, campaign_id, at + timedelta(minutes=40))
                elif group == "sometimes" and k % 2 == 0:
                    reply(session, contact_id, at + timedelta(hours=5))
    session.flush()
    return made
