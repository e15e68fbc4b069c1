"""A campaign sent through a provider that reports no price (SMPP) has an unknown cost, not 0.00.

The report added up ``messages.price_micros`` with 0 for a missing price: a campaign sent over SMPP read
"Cost 0.00 EUR" and, beside its estimate, "differs from the estimate (another price charged, or fewer
messages sent)", though nothing was known of what the provider charged.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.console import forecast_words
from campaigns import tasks
from campaigns.models import Campaign
from conversations.models import Message
from core import db
from tests.console.test_campaign_reports import HTML, build_campaign
from tests.console.test_campaign_wizard import marketer_headers, wizard_audience, wizard_form


def _row(page: str, metric: str) -> str:
    return page.split(f'data-metric="{metric}">', 1)[1].split("</tr>", 1)[0]


def _tile(page: str) -> str:
    return page.split('id="fig-cost">', 1)[1].split("</li>", 1)[0]


def _sent_over_smpp(app_client: TestClient) -> tuple[int, int]:
    """A campaign confirmed in the wizard, prepared and completed, every text delivered over SMPP with no price
    said; (its id, how many texts)."""
    ids = wizard_audience()
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=wizard_form(ids),
                                headers=marketer_headers(app_client))
    assert confirmed.status_code == 204, confirmed.text
    with db.session_scope() as session:
        campaign_id = session.query(Campaign).one().id
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id)
                        .values(status="delivered", provider="smpp", price_micros=None))
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
        return campaign_id, session.query(Message).filter(Message.campaign_id == campaign_id).count()


def test_a_campaign_whose_provider_reports_no_price_has_an_unknown_cost(app_client: TestClient) -> None:
    campaign_id, sent = _sent_over_smpp(app_client)
    assert sent >= 2
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _tile(page).startswith("unknown</span>") and "0.00" not in _tile(page)
    assert f'id="cost-unpriced">the provider reported no price for the {sent} texts sent<' in page
    row = _row(page, "cost_micros")
    assert '<td data-label="Actual">unknown</td>' in row
    assert f'<td data-label="Verdict">{forecast_words.UNPRICED}</td>' in row and "differs" not in row

    with db.session_scope() as session:  # one text priced, the others not: the sum is a floor, still not compared
        first = session.query(Message.id).filter(Message.campaign_id == campaign_id).order_by(Message.id).first()
        assert first is not None
        session.execute(update(Message).where(Message.id == first[0]).values(price_micros=65_000))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _tile(page).startswith("at least 0.07 ")
    assert f'id="cost-unpriced">the provider reported no price for {sent - 1} text' in page
    row = _row(page, "cost_micros")
    assert '<td data-label="Actual">at least 0.07' in row and forecast_words.UNPRICED in row

    with db.session_scope() as session:  # every text priced: compared with the estimate again
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(price_micros=10_000))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert 'id="cost-unpriced"' not in page and forecast_words.UNPRICED not in page
    assert _tile(page).startswith(f"{sent * 0.01:,.2f} ")


def test_the_campaign_list_reads_an_unpriced_cost_as_unknown(app_client: TestClient) -> None:
    """The campaigns list showed the same 0.00 in its Cost column."""
    _sent_over_smpp(app_client)
    page = app_client.get("/console/campaigns", headers=HTML).text
    cell = page.split('data-figure="cost"', 1)[1].split("</td>", 1)[0]
    assert cell.endswith(">unknown") and 'title="the provider reported no price for the ' in cell


def test_an_arm_whose_texts_said_no_price_has_an_unknown_cost(app_client: TestClient) -> None:
    """The per-arm table read "0.00" for an arm sent over SMPP, beside a cost tile saying "unknown"."""
    campaign_id = build_campaign(status="completed")
    app_client.headers.update(marketer_headers(app_client))

    def arm_cost(arm: str) -> str:
        page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
        row = page.split('id="arms"', 1)[1].split(f'data-arm="{arm}">', 1)[1].split("</tr>", 1)[0]
        return row.rsplit("<td>", 1)[1].split("</td>", 1)[0]

    assert (arm_cost("A"), arm_cost("B")) == ("0.10 EUR", "0.10 EUR")
    with db.session_scope() as session:  # arm B's text still "sent" went over SMPP, which said no price
        session.execute(update(Message).where(Message.campaign_id == campaign_id, Message.status == "sent")
                        .values(provider="smpp", price_micros=None))
    assert (arm_cost("A"), arm_cost("B")) == ("0.10 EUR", "at least 0.05 EUR")
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id, Message.status == "delivered",
                                              Message.analysis["ab_arm"].as_string() == "B")
                        .values(provider="smpp", price_micros=None))
    assert arm_cost("B") == "unknown"
