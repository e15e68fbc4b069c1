"""The forecast in the console: the wizard's review shows it with its sources; the campaign page
sets the forecast stored at schedule beside what happened."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlalchemy import update

from campaigns import forecasting, tasks
from campaigns.models import Campaign
from conversations.models import Message
from core import db
from core.db import utcnow
from tests.console import browser as tools
from tests.console.test_campaign_reports import build_campaign
from tests.console.test_campaign_wizard import HTML, marketer_headers, wizard_audience, wizard_form


def test_review_shows_the_forecast_and_the_campaign_page_compares_it(app_client: TestClient) -> None:
    ids = wizard_audience()
    headers = marketer_headers(app_client)
    shown = app_client.post("/console/campaigns/wizard/review", data=wizard_form(ids), headers=headers)
    assert shown.status_code == 200
    html = shown.text
    assert 'id="forecast"' in html and "<dt>Delivered</dt>" in html and "80 %:" in html
    assert "population prior" in html  # no past campaign yet: the forecast says what it rests on
    assert "<dt>Revenue</dt><dd>n/a</dd>" in html  # neither past conversion values nor predictions
    assert "not offered yet: no uplift model" in html  # uplift targeting needs a past controlled campaign
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=wizard_form(ids), headers=headers)
    assert confirmed.status_code == 204, confirmed.text
    with db.session_scope() as session:
        campaign = session.query(Campaign).one()
        campaign_id = campaign.id
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="delivered"))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200
    assert 'id="forecast-vs-actual"' in page.text
    row = page.text.split('data-metric="delivered">', 1)[1].split("</tr>", 1)[0]
    assert "<td>3</td>" in row and "interval" in row


@pytest.mark.browser
def test_forecast_vs_actual_is_accessible_and_fits(live_server: str, page: Page) -> None:
    campaign_id = build_campaign()
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.ab = {"arms": [{**arm, "template_id": campaign.template_id} for arm in campaign.ab["arms"]]}
        assert forecasting.record(session, campaign, now=utcnow(), run=campaign.run) is not None
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{live_server}/console/campaigns/{campaign_id}")
    assert page.locator("#forecast-vs-actual tbody tr").count() == 6
    assert tools.serious_violations(page) == []
    tools.fits(page)
