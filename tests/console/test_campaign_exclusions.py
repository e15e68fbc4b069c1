"""The campaign page tells a marketer how many recipients got nothing, and why."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console.helpers import create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_exclusions_by_reason_at_preparation_and_at_send_time(app_client: TestClient, runtime: Settings) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), name="Spring sale")
        campaign.status = "running"
        campaign.skipped = {"no_consent": 4, "opted_out": 1, "frequency_cap": 2}
        for n, (status, code) in enumerate([("delivered", ""), ("rejected", "opted_out"), ("failed", "unreachable")]):
            contact = create_contact(session, n)
            session.add(Message(contact_id=contact.id, direction="out", body="-20%", status=status, lane="marketing",
                                author_type="campaign", campaign_id=campaign.id, error_code=code))
        campaign_id = campaign.id
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200, page.text
    table = page.text.split('<table id="exclusions">')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-reason="(\w+)"><th scope="row">([^<]*)</th><td>(\d+)</td><td>(\d+)</td></tr>', table)
    assert rows == [
        ("no_consent", "No marketing consent on record", "4", "0"),
        ("frequency_cap", "Frequency cap reached", "2", "0"),
        ("opted_out", "The contact opted out", "1", "1"),  # one left out, one opted out after preparation
    ]
    assert "unreachable" not in table  # a provider failure is not an exclusion
