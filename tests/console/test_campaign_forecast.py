"""The forecast in the console: the wizard's review shows it with its sources; the campaign page
sets the forecast stored at schedule beside what happened."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import update

from api.console import forecast_words
from campaigns import forecasting, tasks
from campaigns.models import Campaign, CampaignForecast, Template
from contacts.models import Contact, Order
from conversations.models import Message
from core import db
from core.db import utcnow
from intelligence import store
from intelligence.forecast import Figure, Forecast, Inputs, Money, forecast
from tests.campaigns.factories import create_campaign, create_contact, create_template
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
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200
    assert 'id="forecast-vs-actual"' in page.text
    assert "<li>Based on: delivered: population prior;" in page.text  # what the stored forecast rested on
    row = page.text.split('data-metric="delivered">', 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="Actual">3</td>' in row and "interval" in row


def _review_figures(html: str) -> dict[str, str]:
    section = html.split('id="forecast"', 1)[1]
    pairs = re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", section, re.S)
    return {name: " ".join(value.split()) for name, value in pairs
            if name in ("Delivered", "Clicks (unique)", "Conversions", "Revenue")}


def _page_figures(html: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-metric="[^"]+"><th scope="row">([^<]+)</th><td data-label="Forecast">(.*?)</td>', html,
                      re.S)
    return {name: " ".join(value.split()) for name, value in rows
            if name in ("Delivered", "Clicks (unique)", "Conversions", "Revenue")}


def test_the_campaign_page_shows_the_forecast_the_review_promised(app_client: TestClient) -> None:
    """The review of a campaign not saved yet forecast 18.12 EUR of revenue and 0.19 clicks; confirmed a moment
    later, with the same audience and text, its page read 19.73 EUR and 0.2: the simulations were seeded by the
    campaign's id, which the review's campaign did not have yet."""
    ids = wizard_audience()
    with db.session_scope() as session:  # a link, their orders and purchase chances: every figure is drawn
        session.get_one(Template, ids["promo"]).body = "Soldes d'hiver : -20 % https://shop.example/soldes"
        clients = list(session.query(Contact))
        for n, contact in enumerate(clients):
            session.add(Order(contact_id=contact.id, source="api", external_id=f"o{n}", currency="EUR",
                              total_micros=(40 + 25 * n) * 1_000_000, ordered_at=utcnow() - timedelta(days=20)))
        model = store.register_version(session, kind="purchase_90d", version="t1")
        store.write_predictions(session, model, [store.Score(c.id, 0.3) for c in clients])
    headers = marketer_headers(app_client)
    form = wizard_form(ids)
    reviewed = app_client.post("/console/campaigns/wizard/review", data=form, headers=headers)
    promised = _review_figures(reviewed.text)
    assert promised["Revenue"] != "n/a" and "EUR" in promised["Revenue"], promised
    assert app_client.post("/console/campaigns/wizard/confirm", data=form, headers=headers).status_code == 204
    with db.session_scope() as session:
        campaign_id = session.query(Campaign).one().id
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert _page_figures(page) == promised


def test_a_run_still_sending_gets_no_verdict_and_times_are_in_the_campaigns_zone(app_client: TestClient) -> None:
    """Texts planned for the next morning read "Delivered 0 … outside the 95 % interval", and the page
    said when in UTC to a shop in Paris."""
    ids = wizard_audience()
    headers = marketer_headers(app_client)
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=wizard_form(ids), headers=headers)
    assert confirmed.status_code == 204, confirmed.text
    with db.session_scope() as session:
        campaign = session.query(Campaign).one()
        campaign_id, created = campaign.id, campaign.created_at
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="running"))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    row = page.split('data-metric="delivered">', 1)[1].split("</tr>", 1)[0]
    assert "too early: still sending" in row and "interval" not in row
    # no revenue could be forecast (no order, no past conversion): ROI says so, and no comparison is promised
    roi = page.split('data-metric="roi">', 1)[1].split("</tr>", 1)[0]
    assert f'<td data-label="Forecast">n/a: {forecast_words.NO_REVENUE}</td>' in roi
    assert f'<td data-label="Verdict">{forecast_words.NOT_FORECAST}</td>' in roi
    paris = created.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert f"Created {paris:%Y-%m-%d %H:%M} (Europe/Paris)" in page and " UTC" not in page.split("<main", 1)[1]
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="delivered"))
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
    done = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    row = done.split('data-metric="delivered">', 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="Actual">3</td>' in row and "inside the 80 % interval" in row


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
    # on a phone nothing of the table is hidden to the right of its box (the verdict was cut off at 390 px):
    # each metric stacks its figures, each after its column's name, and stays a table row for screen readers
    for width in (tools.PHONE_WIDTH, 390):
        page.set_viewport_size({"width": width, "height": 800})
        box = page.evaluate("() => { const w = document.querySelector('#forecast-vs-actual').parentElement;"
                            " return [w.scrollWidth, w.clientWidth]; }")
        assert box[0] <= box[1], (width, box)
    delivered = page.get_by_role("row", name=re.compile("^Delivered"))
    expect(delivered.get_by_role("cell").nth(2)).to_have_accessible_name(re.compile("^Verdict: "))


@pytest.mark.browser
def test_a_recurring_campaigns_forecast_per_run_is_accessible_and_fits(live_server: str, page: Page) -> None:
    """Two runs, each with its forecast and its own messages: one part of the table per run, latest first."""
    with db.session_scope() as session:
        ids = [create_contact(session, i, timezone="UTC").id for i in range(5)]
        campaign = create_campaign(session, create_template(session, body="Weekly news"), recurrence="0 12 * * 3")
        for run in (1, 2):
            campaign.run = run
            assert forecasting.record(session, campaign, now=utcnow(), run=run) is not None
            for n, contact_id in enumerate(ids[:3 + run - 1]):  # 3 recipients, then 4
                session.add(Message(contact_id=contact_id, direction="out", body="Weekly news", status="delivered",
                                    lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                                    created_at=utcnow() + timedelta(minutes=run, seconds=n),
                                    idempotency_key=f"campaign:{campaign.id}:{run}:{contact_id}"))
        campaign.status, campaign.next_run_at = "scheduled", utcnow() + timedelta(days=7)
        campaign_id = campaign.id
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{live_server}/console/campaigns/{campaign_id}")
    parts = page.locator("#forecast-vs-actual tbody")
    expect(parts).to_have_count(2)
    assert [parts.nth(i).get_attribute("data-run") for i in range(2)] == ["2", "1"]
    expect(parts.nth(0).get_by_role("rowheader", name=re.compile("^Send 2: forecast made"))).to_be_visible()
    expect(parts.nth(0).locator('tr[data-metric="delivered"] td').nth(1)).to_have_text("4")
    expect(parts.nth(1).locator('tr[data-metric="delivered"] td').nth(1)).to_have_text("3")
    assert tools.serious_violations(page) == []
    tools.fits(page)


def test_the_review_names_each_amounts_currency_and_why_an_roi_is_missing() -> None:
    keen = Inputs(purchase_p=np.full(500, 0.4), order_value=np.full(500, 50.0), segments_per_message=1.0,
                  price_micros=50_000, past_purchase_p=0.1)
    made = forecast(dataclasses.replace(keen, money=Money("GBP", "EUR")))
    apart = forecast_words.facts(made)
    assert apart["Revenue"].split(" (", 1)[0].endswith(" GBP") and apart["Cost"].endswith(" EUR")
    # a marketer reads it in words; the server setting's name is for the administrator who sets it
    assert apart["Return on cost (ROI)"] == ("n/a: revenue is in GBP and cost in EUR, and no exchange rate between "
                                             "them is set yet: an administrator can add one")
    assert not any("RELAIS_" in text for text in apart.values())
    admin = forecast_words.facts(made, admin=True)
    assert admin["Return on cost (ROI)"].startswith("n/a: revenue in GBP, cost in EUR: set RELAIS_EXCHANGE_RATES")
    rated_made = forecast(dataclasses.replace(keen, money=Money("GBP", "EUR", 1.17)))
    rated = forecast_words.facts(rated_made)
    # 1,111 EUR of revenue on 25 EUR of texts: the two amounts side by side, not "over +1,000%"
    assert rated["Return on cost (ROI)"].startswith("not a useful ratio here: the texts cost 25.00 EUR against "), \
        rated["Return on cost (ROI)"]
    assert "1 GBP = 1.17 EUR (the exchange rate an administrator set)" in rated["Based on"]
    assert "1 GBP = 1.17 EUR (RELAIS_EXCHANGE_RATES)" in forecast_words.facts(rated_made, admin=True)["Based on"]


def test_an_roi_on_a_negligible_cost_is_capped_and_says_what_it_divides() -> None:
    """The demo's wizard read "ROI +174,102% (…; 95 %: -100%–+2,570,558%)": 783.91 EUR of predicted revenue over
    0.45 EUR of texts. True by the arithmetic, no guide: the line caps it and names both amounts."""
    point = Figure(450_000, 450_000, 450_000, 450_000, 450_000)
    made = Forecast(9, {"delivered": Figure(8.6, 7, 9, 7, 9), "clicks": Figure(0.43, 0, 1, 0, 2),
                        "conversions": Figure(0.086, 0, 0, 0, 1), "cost_micros": point,
                        "revenue_micros": Figure(783.91e6, 0, 0, 0, 11_567.96e6),
                        "roi": Figure(1741.02, -1, -1, -1, 25_705.58)},
                    {"roi": "(revenue − cost) ÷ cost, per draw"}, Money("EUR", "EUR"))
    roi = forecast_words.facts(made)["Return on cost (ROI)"]
    # "over +1,000%" led the line, a true mean nobody can act on: the cost and the revenue, with its intervals, instead
    # the revenue's range and "the average is above the 80 % range…" are the Revenue row's: repeated here, the cell
    # was some 60 words
    assert roi == ("not a useful ratio here: the texts cost 0.45 EUR against 783.91 EUR of revenue expected (its range "
                   "under Revenue); any sale pays for them many times over, no sale loses the 0.45 EUR, so judge the "
                   "campaign on its conversions and revenue"), roi
    assert len(roi.split()) < 45 and "80 %" not in roi  # it was 59 words
    assert forecast_words.facts(made)["Revenue"] == ("783.91 EUR (80 %: 0.00; 95 %: 0.00–11,567.96); the average is "
                                                     "above the 80 % range: most simulated outcomes have no sale, a "
                                                     "few have one")
    assert "174,102" not in roi and "1,000%" not in roi
    # a range whose ends read the same is one value; signed ends are joined by "to" ("-100%–-100%" read as noise)
    assert forecast_words._span("roi", -1, 25_705.58) == "-100% to over +1,000%"
    conversions = forecast_words.facts(made)["Conversions"]
    assert conversions.startswith("0.086 (80 %: 0; 95 %: 0–1)")  # not "0" beside a revenue
    assert conversions.endswith("most simulated outcomes have no sale, a few have one")
    cheap = Forecast(9, {**made.figures, "revenue_micros": Figure(4e6, 0, 0, 0, 40e6),
                         "roi": Figure(7.9, -1, -1, -1, 88)}, {}, Money("EUR", "EUR"))
    assert "negligible" not in forecast_words.facts(cheap)["Return on cost (ROI)"]  # +790 %: said as it is


def test_a_sale_too_rare_for_the_95_range_is_not_shown_as_a_certainty() -> None:
    """The demo's one-recipient draft read "Conversions 0.011", "Revenue 7.93 EUR" and "ROI over +1,000%", each alone
    as if certain: 19 outcomes in 20 had no sale, so both intervals were one value and were left out with it."""
    one = Inputs(purchase_p=np.full(1, 0.9), order_value=np.full(1, 120.0), segments_per_message=1.0,
                 price_micros=50_000, past_purchase_p=0.9, money=Money("EUR", "EUR"))
    shown = forecast_words.facts(forecast(one))
    assert shown["Conversions"].startswith("0.0") and shown["Conversions"].endswith(
        " (80 % and 95 %: 0); the average is above the 95 % range: most simulated outcomes have no sale, a few "
        "have one")
    assert re.fullmatch(r"\d+\.\d\d EUR \(80 % and 95 %: 0\.00\); the average is above the 95 % range: most simulated "
                        r"outcomes have no sale, a few have one", shown["Revenue"]), shown["Revenue"]
    roi = shown["Return on cost (ROI)"]
    assert roi.startswith("not a useful ratio here: the texts cost 0.05 EUR against "), roi
    assert roi.endswith(" of revenue expected (its range under Revenue); any sale pays for them many times over, no "
                        "sale loses the 0.05 EUR, so judge the campaign on its conversions and revenue"), roi
    assert shown["Cost"] == "0.05 EUR"  # known before sending: one value, no interval
    assert "revenue: 1 recipient's mean order value from their order history" in shown["Based on"]  # "1 recipients'"


def test_a_run_not_sent_yet_says_so_instead_of_n_a() -> None:
    """A campaign scheduled for tomorrow showed each forecast beside "n/a" and "n/a", as if nothing could be
    measured; its rows now say the run has not sent yet, and a sent run keeps its figures."""
    figure = {"expected": 4.8, "low80": 4.0, "high80": 5.0, "low95": 4.0, "high95": 5.0}
    waiting = {"metric": "delivered", "forecast": figure, "actual": None, "within80": None, "within95": None}
    sent = {"metric": "delivered", "forecast": figure, "actual": 5, "within80": True, "within95": True}
    compared = {"runs": [{"run": 1, "made_at": "2026-12-01T02:00:00+00:00", "metrics": [sent], "sources": {}},
                         {"run": 2, "made_at": "2026-12-08T02:00:00+00:00", "metrics": [waiting], "sources": {}}]}
    latest, first = forecast_words.runs(compared)
    assert (latest.rows[0].actual, latest.rows[0].verdict) == ("not sent yet", "not sent yet")
    assert (first.rows[0].actual, first.rows[0].verdict) == ("5", "inside the 80 % interval")


def _cells(html: str, metric: str) -> tuple[str, str]:
    """The actual and verdict of ``metric``'s row in the forecast-vs-actual table."""
    row = html.split(f'data-metric="{metric}">', 1)[1].split("</tr>", 1)[0]
    found = re.search(r'data-label="Actual">([^<]*)</td><td data-label="Verdict">([^<]*)</td>', row.replace("\n", ""))
    assert found is not None, row
    return found.group(1).strip(), found.group(2)


def test_an_roi_still_sending_is_too_early_and_one_the_simulator_made_free_says_why(app_client: TestClient) -> None:
    """While a run sent, its ROI row read "n/a | n/a" beside rows saying "too early: still sending": nothing charged
    yet is nothing to divide by. Once every text went through the simulator, which charges nothing, the ROI can
    never be worked out, and the row says why."""
    keen = Inputs(purchase_p=np.full(4, 0.4), order_value=np.full(4, 50.0), segments_per_message=1.0,
                  price_micros=50_000, past_purchase_p=0.1, money=Money("EUR", "EUR"))
    made = forecast(keen)
    assert made.figures["roi"] is not None
    headers = marketer_headers(app_client)
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session, body="New sale"))
        campaign.status, campaign.run = "running", 1
        session.add(CampaignForecast(campaign_id=campaign.id, run=1, made_at=utcnow(), forecast=made.as_dict()))
        for n in range(4):
            contact = create_contact(session, n)
            session.add(Message(contact_id=contact.id, direction="out", body="New sale", status="sending",
                                lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                                idempotency_key=f"campaign:{campaign.id}:1:{contact.id}"))
        campaign_id = campaign.id
    sending = app_client.get(f"/console/campaigns/{campaign_id}", headers={**HTML, **headers}).text
    assert _cells(sending, "delivered") == ("0", forecast_words.TOO_EARLY)
    assert _cells(sending, "roi") == ("nothing charged yet", forecast_words.TOO_EARLY)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id)
                        .values(status="delivered", provider="simulator"))
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
    done = app_client.get(f"/console/campaigns/{campaign_id}", headers={**HTML, **headers}).text
    assert _cells(done, "cost_micros") == ("0.00 EUR", forecast_words.SIMULATED)
    assert _cells(done, "roi") == ("n/a", forecast_words.FREE)


def test_an_roi_that_cannot_be_worked_out_says_why_and_one_that_can_is_judged() -> None:
    """Each reason an ROI has no actual figure once texts went, in the verdict column; a priced run's ROI is
    compared with its interval, and a figure nobody forecast is not "too early" (no comparison ever comes)."""
    roi = {"expected": 2.0, "low80": 1.0, "high80": 3.0, "low95": 0.5, "high95": 4.0}
    cost = {"expected": 200_000, "low80": 200_000, "high80": 200_000, "low95": 200_000, "high95": 200_000}

    def rows(actual_roi: float | None, *, money: Money = Money("EUR", "EUR"),
             forecast_roi: dict[str, float] | None = roi, **flags: Any) -> forecast_words.Row:
        metrics = [{"metric": "cost_micros", "forecast": cost, "actual": 100_000.0, "within80": False,
                    "within95": False},
                   {"metric": "roi", "forecast": forecast_roi, "actual": actual_roi,
                    "within80": None if actual_roi is None or forecast_roi is None else True,
                    "within95": None if actual_roi is None or forecast_roi is None else True}]
        sources = {"roi": money.not_comparable} if money.factor is None else {}
        return forecast_words._rows(metrics, money, sources, **flags)[1]

    judged = rows(1.5)
    assert (judged.actual, judged.verdict) == ("+150%", "inside the 80 % interval")
    assert rows(1.5, finished=False).verdict == forecast_words.TOO_EARLY
    assert (rows(None, finished=False).actual, rows(None, finished=False).verdict) == (
        "nothing charged yet", forecast_words.TOO_EARLY)
    assert (rows(None).actual, rows(None).verdict) == ("n/a", forecast_words.NOTHING_CHARGED)
    assert rows(None, finished=False, simulated=True).verdict == forecast_words.FREE
    assert (rows(None, unpriced=3).actual, rows(None, unpriced=3).verdict) == ("unknown", forecast_words.UNPRICED)
    apart = rows(None, money=Money("GBP", "EUR"), forecast_roi=None, finished=False)
    assert (apart.actual, apart.verdict) == ("n/a", "not compared: no exchange rate from GBP to EUR is set")
    assert apart.forecast.startswith("n/a: revenue is in GBP and cost in EUR")
    unforecast = rows(-1.0, forecast_roi=None, finished=False)
    assert (unforecast.actual, unforecast.verdict) == ("-100%", forecast_words.NOT_FORECAST)
    assert unforecast.forecast == f"n/a: {forecast_words.NO_REVENUE}"


def test_the_review_of_a_text_without_a_link_says_why_it_expects_no_click(app_client: TestClient) -> None:
    """The review expected clicks ("Clicks (unique) 0.15 (80 %: 0 …)") for a text nobody can click."""
    ids = wizard_audience()  # its templates hold no link
    headers = marketer_headers(app_client)
    html = app_client.post("/console/campaigns/wizard/review", data=wizard_form(ids), headers=headers).text
    clicks = html.split("<dt>Clicks (unique)</dt><dd>", 1)[1].split("</dd>", 1)[0]
    assert clicks == f"0: {forecast_words.NO_LINK}"
    assert "clicks (unique): no link in the text: nobody can click it" in html  # under "Based on"
    assert "0.5 % bought without clicking" in html  # the prior it falls back on, in numbers
    with db.session_scope() as session:
        linked = create_template(session, name="Lien", body="Soldes : https://shop.example/soldes")
    html = app_client.post("/console/campaigns/wizard/review", headers=headers,
                           data=wizard_form(ids, template_id=str(linked.id))).text
    clicks = html.split("<dt>Clicks (unique)</dt><dd>", 1)[1].split("</dd>", 1)[0]
    assert "80 %:" in clicks and "no link" not in clicks


def test_a_campaign_without_a_link_has_no_click_through_rate(app_client: TestClient) -> None:
    """The report of a text with no link read "Click-through rate 0.0 %", as if nobody wanted it."""
    ids = wizard_audience()  # its templates hold no link
    headers = marketer_headers(app_client)
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=wizard_form(ids), headers=headers)
    assert confirmed.status_code == 204, confirmed.text
    with db.session_scope() as session:
        campaign_id = session.query(Campaign).one().id
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="delivered"))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert 'id="fig-ctr">n/a</span><span class="hint" id="ctr-no-link">the text has no link' in page
    with db.session_scope() as session:
        linked = create_template(session, name="Lien", body="Soldes : https://shop.example/soldes")
        session.get_one(Campaign, campaign_id).template_id = linked.id
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert 'id="fig-ctr">0.0\u00a0%</span>' in page and "ctr-no-link" not in page


@pytest.mark.browser
def test_the_reviews_forecast_reads_on_a_phone(live_server: str, page: Page) -> None:
    """At 360 px the review's forecast gave its labels the width of their longest ("Only contacts the message is
    likely to change") and each figure 16 px: a letter a line, the sources 6,840 px tall. Each figure now has at least
    most of the width, under or beside its label."""
    wizard_audience()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 800})
    page.goto(f"{live_server}/console/campaigns/new")
    page.fill("#name", "Soldes d'hiver")
    page.select_option("#template_id", label="Soldes (French)")
    expect(page.locator("#forecast dd").first).to_contain_text("80 %", timeout=20_000)
    widths = page.eval_on_selector_all("#forecast dd", "dds => dds.map(dd => dd.getBoundingClientRect().width)")
    assert widths and min(widths) >= 200, widths
    assert tools.page_width(page) <= tools.PHONE_WIDTH
    page.set_viewport_size({"width": 1366, "height": 900})  # beside its label on a desktop, as before
    first = page.locator("#forecast dt").first.bounding_box()
    figure = page.locator("#forecast dd").first.bounding_box()
    assert first is not None and figure is not None and abs(first["y"] - figure["y"]) < 4 and figure["x"] > first["x"]
