"""Campaign reports in the console: list, report page with SVG charts, live fragment, exports, roles."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from api.console.campaigns import daily
from campaigns import reporting
from campaigns.models import Campaign, CampaignLink, Conversion, LinkClick
from contacts import consent
from contacts.models import Order
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}
# (status, error_code, arm, price in micros) of the campaign's outbound messages
OUTBOUND = (
    ("delivered", "", "A", 50_000),
    ("delivered", "", "A", 50_000),
    ("delivered", "", "B", 50_000),
    ("sent", "", "B", 50_000),
    ("failed", "unreachable", "B", 0),
    ("queued", "", "A", 0),
    ("rejected", "opted_out", "B", 0),
)


def build_campaign(status: str = "running") -> int:
    """A running A/B campaign: 7 messages sent an hour ago; arm A's first contact clicked, replied and
    converted, arm B's first contact opted out."""
    with db.session_scope() as session:
        template = create_template(session)
        campaign = create_campaign(session, template, name="Spring sale")
        campaign.status = status
        campaign.ab = {"arms": [{"name": "A", "template_id": template.id}, {"name": "B", "template_id": template.id}]}
        campaign.skipped = {"quiet_hours": 2}
        contacts = [create_contact(session, n) for n in range(len(OUTBOUND))]
        for contact, (state, code, arm, price) in zip(contacts, OUTBOUND, strict=True):
            message = Message(
                contact_id=contact.id,
                direction="out",
                body="Bonjour -20%",
                status=state,
                lane="marketing",
                author_type="campaign",
                campaign_id=campaign.id,
                error_code=code,
                price_micros=price,
                segments=1,
                analysis={"ab_arm": arm},
                created_at=db.utcnow() - timedelta(hours=1),
            )
            session.add(message)
        session.flush()
        first = contacts[0]
        later = db.utcnow() + timedelta(minutes=5)
        session.add(
            Message(
                contact_id=first.id,
                direction="in",
                body="Super, merci",
                status="received",
                author_type="customer",
                created_at=later,
            )
        )
        link = CampaignLink(campaign_id=campaign.id, url="https://shop.example/sale")
        session.add(link)
        session.flush()
        session.add(LinkClick(link_id=link.id, campaign_id=campaign.id, contact_id=first.id, clicked_at=later))
        session.add(
            Conversion(campaign_id=campaign.id, contact_id=first.id, reference="order-1", value_micros=25_000_000)
        )
        consent.record_opt_out(session, contact=contacts[2], source="keyword", proof="STOP")
        return campaign.id


def marketer_client(app_client: TestClient) -> TestClient:
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    return app_client


def figure(html: str, name: str) -> str:
    match = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


def arm_cells(html: str, arm: str) -> list[str]:
    row = html.split(f'<tr data-arm="{arm}">')[1].split("</tr>")[0]
    return re.findall(r"<td>([^<]*)</td>", row)


def test_marketer_sees_the_list_with_headline_figures(app_client: TestClient, runtime: Settings) -> None:
    campaign_id = build_campaign()
    client = marketer_client(app_client)
    page = client.get("/console/campaigns", headers=HTML)
    assert page.status_code == 200, page.text
    row = page.text.split(f'data-campaign="{campaign_id}"')[1].split("</tr>")[0]
    cells = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', row))
    # sent = delivered 3 + sent 1 + failed 1; queued and rejected were never submitted
    assert cells == {
        "sent": "5",
        "delivered": "3",
        "delivery_rate": "60.0\u00a0%",
        "clicks": "1",
        "ctr": "33.3\u00a0%",
        "replies": "1",
        "opt_outs": "1",
        "conversions": "1",
        "cost": "0.20 EUR",  # the SMS provider's prices' currency
    }
    assert "Spring sale" in row and "running" in row
    assert 'href="/console/campaigns" aria-current="page"' in page.text


def test_rates_of_a_campaign_that_sent_nothing_are_not_zero(app_client: TestClient, runtime: Settings) -> None:
    """A campaign whose texts all wait (an A/B test's rest, a window not open yet) read "Delivery rate 0.0 %"."""
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), name="Not yet")
        arms = [{"name": name, "template_id": campaign.template_id} for name in "AB"]
        campaign.status, campaign.ab = "running", {"arms": arms}
        campaign_id = campaign.id
    client = marketer_client(app_client)
    page = client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert figure(page, "delivery-rate") == "n/a" and figure(page, "ctr") == "n/a"
    assert arm_cells(page, "A")[2] == "n/a" and arm_cells(page, "A")[4] == "n/a"
    assert "0.0\u00a0%" not in page.split('id="fig-delivery-rate"', 1)[1]  # the arms' charts too
    listed = client.get("/console/campaigns", headers=HTML).text
    row = listed.split(f'data-campaign="{campaign_id}"')[1].split("</tr>")[0]
    cells = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', row))
    assert (cells["delivery_rate"], cells["ctr"]) == ("n/a", "n/a")

    # the REST report: null, never 0.0 (it gave 0.0 for every rate); the CSV export: n/a
    with db.session_scope() as session:
        session.get_one(Campaign, campaign_id).send_time = {"start": "2026-12-03T09:00", "end": "2026-12-04T20:00"}
    report = client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=auth_headers("analyst")).json()
    for block in (report["totals"], *report["arms"].values()):
        assert (block["sent"], block["delivery_rate"], block["ctr"]) == (0, None, None)
    for group in report["send_time"]["groups"].values():
        assert (group["ctr"], group["reply_rate"], group["conversion_rate"]) == (None, None, None)
    assert report["send_time"]["lift"]["click"]["difference"] is None
    exported = client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv", headers=auth_headers("analyst")).text
    rows = {(scope, metric): value for scope, metric, value in csv.reader(io.StringIO(exported))}
    for scope in ("all", "arm A", "arm B", "send time best_time"):
        assert (rows[(scope, "delivery_rate")], rows[(scope, "ctr")]) == ("n/a", "n/a"), scope
    assert rows[("send time random_time", "reply_rate")] == rows[("send time lift", "click.low")] == "n/a"
    assert "0.0" not in {value for (_, metric), value in rows.items() if "rate" in metric or metric == "ctr"}


def test_an_ab_tests_phases_are_not_exclusions_and_its_state_is_said(app_client: TestClient, runtime: Settings) -> None:
    """A completed A/B campaign of 9 read "Recipients who got no message: held back for the A/B winner 5, already
    texted in the A/B test 4" though all 9 got one; a winner chosen on no click at all read as a better arm."""
    campaign_id = build_campaign()
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.ab = {**campaign.ab, "metric": "replies", "winner_after_hours": 4}
        campaign.phase, campaign.timezone = "ab_wait", "Europe/Paris"
        campaign.ab_decide_at = datetime(2030, 6, 12, 12, 0)  # stored in UTC: 14:00 in Paris
        campaign.skipped = {"holdout": 5, "no_consent": 1}
    client = marketer_client(app_client)
    waiting = client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert "5 recipients wait for the A/B winner, chosen 2030-06-12 14:00 (Europe/Paris) by its replies." in waiting
    excluded = waiting.split('id="exclusions"', 1)[1].split("</table>", 1)[0]
    assert 'data-reason="no_consent"' in excluded and 'data-reason="holdout"' not in excluded
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.ab_winner, campaign.phase = "B", "done"
        campaign.skipped = {"holdout": 5, "test_group": 4}
        session.execute(delete(Message).where(Message.direction == "in"))  # arm A's one reply
    decided = client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert "A/B winner: B, by a tie: no arm had any replies, so the arm with more messages was kept." in decided
    excluded = decided.split('id="exclusions"', 1)[1].split("</table>", 1)[0]
    assert 'data-reason="holdout"' not in excluded and 'data-reason="test_group"' not in excluded


def test_a_campaign_that_does_not_exist_is_a_page_in_words(app_client: TestClient, runtime: Settings) -> None:
    """An old link to a deleted campaign showed the raw problem+json in the browser."""
    client = marketer_client(app_client)
    page = client.get("/console/campaigns/999", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Campaign 999 not found: it may have been deleted, or the link is wrong." in page.text
    assert 'id="go-home" href' not in page.text and 'href="/console/campaigns" id="go-home"' in page.text
    assert client.get("/console/campaigns/999", headers={"Accept": "application/json"}).json()["status"] == 404


def test_a_page_that_fails_is_a_page_in_words(app_client: TestClient, runtime: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error on a page showed the 500's raw problem+json in the browser."""
    build_campaign()
    client = marketer_client(app_client)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reporting, "summary", broken)  # a server-side bug: no real component fails on demand
    page = client.get("/console/campaigns", headers={**HTML, "X-Request-ID": "req-42"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in page.text and 'href="/console/campaigns" id="go-home"' in page.text
    assert "a bug" not in page.text and "Traceback" not in page.text and ">req-42<" in page.text


def test_report_page_has_charts_tables_exports_and_a_live_fragment(app_client: TestClient, runtime: Settings) -> None:
    campaign_id = build_campaign()
    client = marketer_client(app_client)
    page = client.get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200, page.text
    html = page.text
    assert (figure(html, "sent"), figure(html, "delivered"), figure(html, "failed"), figure(html, "queued")) == (
        "5",
        "3",
        "1",
        "1",
    )
    assert figure(html, "delivery-rate") == "60.0\u00a0%" and figure(html, "cost") == "0.20 EUR"
    assert figure(html, "conversion-value") == "25.00" and figure(html, "replies") == "1"  # no order names a currency
    with db.session_scope() as session:  # the shop's orders say which: a conversion value is in it
        session.add(Order(contact_id=1, source="api", external_id="o-1", status="paid", currency="GBP",
                          ordered_at=db.utcnow(), total_micros=25_000_000))
    html = client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert figure(html, "conversion-value") == "25.00 GBP" and figure(html, "cost") == "0.20 EUR"
    for chart in ("chart-funnel", "chart-reasons", "chart-arm-1", "chart-arm-2", "chart-days"):
        assert f'<svg id="{chart}" class="chart" role="img" aria-labelledby="{chart}-title"' in html, chart
    assert "failed: unreachable" in html and "not sent: opted_out" in html
    # funnel bars are scaled to the largest step (7 messages = 360 units)
    assert 'width="360.0" height="20"' in html and 'width="257.1" height="20"' in html
    # sent, delivered, delivery rate, unique clicks, CTR, replies, opt-outs, conversions, cost
    assert arm_cells(html, "A") == ["2", "2", "100.0\u00a0%", "1", "50.0\u00a0%", "1", "0", "1", "0.10 EUR"]
    assert arm_cells(html, "B") == ["3", "1", "33.3\u00a0%", "0", "0.0\u00a0%", "0", "1", "0", "0.10 EUR"]
    assert "quiet_hours" in html
    assert f"/api/v1/campaigns/{campaign_id}/report?format=csv" in html
    assert f"/api/v1/campaigns/{campaign_id}/report?format=xlsx" in html
    assert f'hx-get="/console/campaigns/{campaign_id}/live" hx-trigger="every 10s"' in html

    csv = client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv")
    assert csv.status_code == 200 and "all,delivered,3" in csv.text
    xlsx = client.get(f"/api/v1/campaigns/{campaign_id}/report?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    # the fragment reflects new delivery reports
    with db.session_scope() as session:
        queued = session.query(Message).filter_by(campaign_id=campaign_id, status="queued").one()
        queued.status = "delivered"
    fragment = client.get(f"/console/campaigns/{campaign_id}/live", headers={**HTML, "HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="campaign-report"' in fragment.text
    assert figure(fragment.text, "delivered") == "4" and figure(fragment.text, "queued") == "0"
    assert "<svg" in fragment.text


def test_finished_campaign_stops_polling(app_client: TestClient, runtime: Settings) -> None:
    campaign_id = build_campaign(status="completed")
    page = marketer_client(app_client).get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200 and "hx-trigger" not in page.text.split('id="campaign-report"')[1].split(">")[0]


def test_roles(app_client: TestClient, runtime: Settings) -> None:
    campaign_id = build_campaign()
    agent, analyst = auth_headers("agent"), auth_headers("analyst")
    for path in ("/console/campaigns", f"/console/campaigns/{campaign_id}", f"/console/campaigns/{campaign_id}/live"):
        assert app_client.get(path, headers={**HTML, **agent}).status_code == 403, path
        assert app_client.get(path, headers={**HTML, **analyst}).status_code == 200, path
    assert app_client.get("/console/campaigns/999999", headers={**HTML, **analyst}).status_code == 404
    anonymous = app_client.get("/console/campaigns", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")


def test_the_report_page_says_why_queued_messages_wait(app_client: TestClient, runtime: Settings) -> None:
    campaign_id = build_campaign()
    with db.session_scope() as session:
        queued = session.query(Message).filter(Message.campaign_id == campaign_id, Message.status == "queued").one()
        queued.not_before = db.utcnow() + timedelta(hours=9)
        queued.wait_reason, queued.wait_detail = "quiet_hours", "quiet hours until Mon 08:00 Europe/Paris"
    page = marketer_client(app_client).get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200, page.text
    table = page.text.split('<table id="waiting">')[1].split("</table>")[0]
    row = table.split('<tr data-reason="quiet_hours">')[1].split("</tr>")[0]
    assert "quiet hours until Mon 08:00 Europe/Paris" in row and "<td>1</td>" in row


def test_the_per_day_table_is_in_the_campaigns_zone(runtime_any_db: Settings) -> None:
    """A Paris campaign's texts sent at 00:30 Paris time (22:30 UTC the day before) count for their
    Paris day: the table said UTC days while every other time on the page was in the campaign's zone."""
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), name="Nuit blanche", timezone="Europe/Paris")
        contact = create_contact(session, 1)
        times = (datetime(2026, 6, 10, 12, 0, tzinfo=UTC), datetime(2026, 6, 10, 22, 30, tzinfo=UTC),
                 datetime(2026, 6, 10, 23, 59, tzinfo=UTC))
        for n, sent_at in enumerate(times):
            session.add(Message(contact_id=contact.id, direction="out", body="Bonjour", status="delivered",
                                lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                                sent_at=sent_at, idempotency_key=f"night:{n}"))
        link = CampaignLink(campaign_id=campaign.id, url="https://shop.example/sale")
        session.add(link)
        session.flush()
        session.add(LinkClick(link_id=link.id, campaign_id=campaign.id, contact_id=contact.id,
                              clicked_at=datetime(2026, 6, 10, 22, 45, tzinfo=UTC)))
        session.flush()
        days = {d.date: (d.sent, d.delivered, d.clicks) for d in daily(session, campaign)}
    assert days == {"2026-06-10": (1, 1, 0), "2026-06-11": (2, 2, 1)}
