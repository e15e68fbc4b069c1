"""The forecast in the console: the wizard's review shows it with its sources; the campaign page
sets the forecast stored at schedule beside what happened."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from campaigns import tasks
from campaigns.models import Campaign
from conversations.models import Message
from core import db
from tests.console.test_campaign_wizard import HTML, _audience, _form, _marketer


def test_review_shows_the_forecast_and_the_campaign_page_compares_it(app_client: TestClient) -> None:
    ids = _audience()
    headers = _marketer(app_client)
    shown = app_client.post("/console/campaigns/wizard/review", data=_form(ids), headers=headers)
    assert shown.status_code == 200
    html = shown.text
    assert 'id="forecast"' in html and "<dt>Delivered</dt>" in html and "80 %:" in html
    assert "population prior" in html  # no past campaign yet: the forecast says what it rests on
    assert "<dt>Revenue</dt><dd>n/a</dd>" in html  # neither past conversion values nor predictions
    assert "not offered yet: no uplift model" in html  # uplift targeting needs a past controlled campaign
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=_form(ids), headers=headers)
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
