"""A campaign report's cost and its segments count the same texts: those that reached a provider."""

from __future__ import annotations

import pytest

from campaigns import reporting
from conversations.models import Message
from core import db
from tests.campaigns.factories import create_campaign, create_contact, create_template


@pytest.mark.usefixtures("runtime_any_db")
def test_segments_beside_the_cost_are_those_of_texts_sent_not_still_queued() -> None:
    """The console reads 'Cost (N segments)': a queued text is neither paid for nor sent, so while a campaign sends,
    N counted the whole audience's segments beside the cost of the first texts only."""
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session, body="Two segments"))
        for i, status in enumerate(("delivered", "failed", "queued", "queued", "sending", "rejected")):
            contact = create_contact(session, i, timezone="UTC")
            session.add(Message(contact_id=contact.id, direction="out", body="Two segments", status=status,
                                lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=2,
                                price_micros=40_000 if status in ("delivered", "failed") else None))
        session.flush()
        figures = reporting.summary(session, campaign.id)
    assert (figures["messages"], figures["sent"], figures["queued"]) == (6, 2, 2)
    assert (figures["segments"], figures["cost_micros"]) == (4, 80_000)
