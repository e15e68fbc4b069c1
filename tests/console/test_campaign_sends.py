"""The campaign page says how many times a campaign went out in a marketer's words: it read "run 0" for a
draft and "run 1" for a campaign sent once (``Campaign.run``, the count of sends started)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.console.campaigns import send_words
from campaigns.models import Campaign
from core import db
from tests.campaigns.factories import create_campaign, create_template
from tests.console.test_campaign_wizard import HTML, marketer_headers


@pytest.mark.parametrize(
    ("run", "recurrence", "words"),
    [
        (0, "", "not sent yet"),
        (1, "", ""),
        (0, "RRULE:FREQ=WEEKLY;BYDAY=WE", "not sent yet"),
        (1, "RRULE:FREQ=WEEKLY;BYDAY=WE", "first send of a repeating campaign"),
        (3, "RRULE:FREQ=WEEKLY;BYDAY=WE", "send 3 of a repeating campaign: the figures below add up all 3 sends"),
        (2, "", "sent 2 times: the figures below add up every send"),
    ],
)
def test_the_sends_are_said_in_words(run: int, recurrence: str, words: str) -> None:
    assert send_words(Campaign(run=run, recurrence=recurrence)) == words


def test_a_draft_says_it_was_not_sent_yet(app_client: TestClient) -> None:
    with db.session_scope() as session:
        campaign_id = create_campaign(session, create_template(session), name="Soldes d'hiver").id
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers={**HTML, **marketer_headers(app_client)})
    assert page.status_code == 200, page.text
    assert 'id="campaign-status">draft</span>, <span id="campaign-sends">not sent yet</span>.' in page.text
    assert "run 0" not in page.text
