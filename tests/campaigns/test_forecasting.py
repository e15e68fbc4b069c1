"""Campaign forecasts: built from past campaigns and contacts' predictions, stored at schedule, set
beside the actual figures afterwards (API and report)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from campaigns import forecasting, preview, reporting, tasks
from campaigns.models import Campaign, CampaignForecast, CampaignLink, Conversion, LinkClick
from contacts.models import Order
from conversations.models import Message
from core import db
from core.db import utcnow
from core.settings import get_settings
from intelligence import store
from intelligence.forecast import PastCampaign
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}


def _past_campaign(session: Session, contact_ids: list[int], *, clicked: int, converted: int) -> int:
    """A completed campaign (its one run finished) whose every message was delivered, with clicks and 30.00
    conversions."""
    campaign = create_campaign(session, create_template(session, body="Old news"), name="past")
    campaign.status, campaign.run = "completed", 1
    campaign.run_started_at = campaign.completed_at = utcnow() - timedelta(days=10)
    link = CampaignLink(campaign_id=campaign.id, url="https://shop.example/old")
    session.add(link)
    session.flush()
    for i, contact_id in enumerate(contact_ids):
        session.add(Message(contact_id=contact_id, direction="out", body="Old news", status="delivered",
                            lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                            price_micros=40_000, created_at=utcnow() - timedelta(days=10),
                            idempotency_key=f"campaign:{campaign.id}:1:{contact_id}"))
        if i < clicked:
            session.add(LinkClick(link_id=link.id, campaign_id=campaign.id, contact_id=contact_id))
        if i < converted:
            session.add(Conversion(campaign_id=campaign.id, contact_id=contact_id, reference=f"o{campaign.id}-{i}",
                                   value_micros=30_000_000))
    session.flush()
    return campaign.id


def _world(session: Session, *, predicted: bool) -> list[int]:
    ids = [create_contact(session, i, timezone="UTC").id for i in range(60)]
    for clicked, converted in ((6, 3), (7, 2), (5, 1)):
        _past_campaign(session, ids, clicked=clicked, converted=converted)
    if predicted:
        model = store.register_version(session, kind="purchase_90d", version="t1")
        store.write_predictions(session, model, [store.Score(i, 0.1) for i in ids])
    return ids


def test_draft_forecast_uses_past_campaigns_and_predictions(runtime: object) -> None:
    with db.session_scope() as session:
        _world(session, predicted=True)
        newcomers = [create_contact(session, 100 + i, timezone="UTC").id for i in range(20)]
        model = store.register_version(session, kind="purchase_90d", version="t2")
        store.write_predictions(session, model, [store.Score(i, 0.1) for i in newcomers])
        draft = create_campaign(session, create_template(session, body="New sale https://shop.example/new"),
                                **ALL_DAY)
        made = forecasting.compute(session, draft, now=utcnow())
        # newcomers seven times as likely to buy as the past recipients (0.1 on average)
        model = store.register_version(session, kind="purchase_90d", version="t3")
        store.write_predictions(session, model, [store.Score(i, 0.7) for i in newcomers])
        hotter = forecasting.compute(session, draft, now=utcnow())
    assert made.recipients == 80
    assert made.sources["delivered"].startswith("3 past campaigns (180 messages)")
    assert "purchase probability (80 of 80 predicted)" in made.sources["conversions"]
    assert "mean of 6 past conversion values" in made.sources["revenue_micros"]
    conversions, revenue = made.figures["conversions"], made.figures["revenue_micros"]
    assert conversions is not None and revenue is not None
    assert 1.5 < conversions.expected < 4.5  # past rate 6/180 of 80 delivered, around 2.7
    assert conversions.low95 <= conversions.expected <= conversions.high95
    # weights 60 × 1 + 20 × 7 = 200 instead of 80
    assert hotter.figures["conversions"].expected > 2 * conversions.expected  # type: ignore[union-attr]
    cost = made.figures["cost_micros"]
    assert cost is not None and cost.expected == 80 * 40_000  # one segment at the past 30 days' price


def test_a_conversion_is_worth_one_order_not_a_buyers_90_days(runtime: object) -> None:
    """The demo forecast +174,102 % ROI: a conversion was worth the 90-day spend ÷ purchase chance (9,228 EUR
    for a customer ordering every other day at 112 EUR an order); it is one order, at the recipient's mean."""
    with db.session_scope() as session:
        ids = [create_contact(session, i, timezone="UTC").id for i in range(40)]
        for contact_id in ids:
            for n in range(20):  # 20 orders of 30.00 in the last 90 days: 600.00 spent, a buyer for sure
                session.add(Order(contact_id=contact_id, source="api", external_id=f"o-{contact_id}-{n}",
                                  status="paid", ordered_at=utcnow() - timedelta(days=4 * n + 1), currency="EUR",
                                  total_micros=30_000_000))
        session.add(Order(contact_id=ids[0], source="api", external_id="refunded", status="cancelled",
                          ordered_at=utcnow() - timedelta(days=2), currency="EUR", total_micros=900_000_000,
                          cancelled_at=utcnow() - timedelta(days=1)))
        for kind, value in (("purchase_90d", 0.99), ("expected_spend", 600.0)):
            model = store.register_version(session, kind=kind, version="t1")
            store.write_predictions(session, model, [store.Score(i, value) for i in ids])
        made = forecasting.compute(session, create_campaign(session, create_template(session, body="Sale"), **ALL_DAY),
                                   now=utcnow())
    conversions, revenue = made.figures["conversions"], made.figures["revenue_micros"]
    assert conversions is not None and revenue is not None and conversions.expected > 0
    assert revenue.expected / conversions.expected == pytest.approx(30_000_000, rel=0.15)  # not 606 EUR
    assert made.sources["revenue_micros"].startswith("40 recipients' mean order value")


def test_forecast_is_stored_at_schedule_and_compared_after(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        _world(session, predicted=False)
        template = create_template(session, body="New sale https://shop.example/new")
        draft_id = create_campaign(session, template, **ALL_DAY).id
    computed = app_client.get(f"/api/v1/campaigns/{draft_id}/forecast", headers=headers)
    assert computed.status_code == 200, computed.text
    assert computed.json()["status"] == "draft" and computed.json()["figures"]["delivered"]["expected"] > 50
    later = utcnow() + timedelta(days=1)
    scheduled = app_client.post(f"/api/v1/campaigns/{draft_id}/schedule", headers=headers,
                                json={"send_at": later.isoformat()})
    assert scheduled.status_code == 200, scheduled.text
    with db.session_scope() as session:
        rows = session.scalars(select(CampaignForecast).where(CampaignForecast.campaign_id == draft_id)).all()
        assert len(rows) == 1 and rows[0].forecast["recipients"] == 60
        # the campaign ran: every message delivered, 2 conversions of 30.00
        campaign = session.get_one(Campaign, draft_id)
        campaign.status, campaign.run = "completed", 1
        for contact_id in range(1, 61):
            session.add(Message(contact_id=contact_id, direction="out", body="New sale", status="queued",
                                lane="marketing", author_type="campaign", campaign_id=draft_id, segments=1,
                                idempotency_key=f"campaign:{draft_id}:1:{contact_id}"))
        session.flush()
        session.execute(update(Message).where(Message.campaign_id == draft_id).values(status="delivered"))
        for n in (1, 2):
            session.add(Conversion(campaign_id=draft_id, contact_id=n, reference=f"new-{n}", value_micros=30_000_000))
    answer = app_client.get(f"/api/v1/campaigns/{draft_id}/forecast", headers=headers).json()
    assert answer["stored"] is True
    metrics = {m["metric"]: m for m in answer["metrics"]}
    assert metrics["delivered"]["actual"] == 60 and metrics["conversions"]["actual"] == 2
    assert metrics["conversions"]["within95"] is True  # 2 is what the past rate predicts
    assert metrics["clicks"]["actual"] == 0 and metrics["clicks"]["within95"] is False  # past: 18 of 180 clicked
    assert metrics["revenue_micros"]["actual"] == 60_000_000
    report = app_client.get(f"/api/v1/campaigns/{draft_id}/report", headers=headers).json()
    assert [m["metric"] for m in report["forecast"]["metrics"]] == [m["metric"] for m in answer["metrics"]]


def test_a_campaign_scheduled_without_a_forecast_says_so(runtime: object) -> None:
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session, body="Hi"), **ALL_DAY)
        campaign.status = "completed"
        answer = forecasting.view(session, campaign, now=utcnow())
    assert answer["stored"] is False and "no forecast" in answer["reason"]


def _deliver_run(campaign_id: int, at: datetime, *, clickers: list[int], buyers: list[int]) -> None:
    """The run prepared at ``at`` is delivered; ``clickers`` click and ``buyers`` convert (30.00) an hour later."""
    assert tasks.prepare_campaign(campaign_id, now=at) > 0
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="delivered"))
        link = session.scalar(select(CampaignLink.id).where(CampaignLink.campaign_id == campaign_id))
        for contact_id in clickers:
            session.add(LinkClick(link_id=link, campaign_id=campaign_id, contact_id=contact_id,
                                  clicked_at=at + timedelta(hours=1)))
        for contact_id in buyers:
            session.add(Conversion(campaign_id=campaign_id, contact_id=contact_id, value_micros=30_000_000,
                                   reference=f"{at:%d}-{contact_id}", created_at=at + timedelta(hours=1)))
    tasks.sweep(now=at + timedelta(hours=2))  # completes the run and schedules the next one


def test_each_recurring_run_stores_its_forecast_and_is_compared_on_its_own(app_client: TestClient) -> None:
    """Two weekly runs on a controlled clock: each forecast is made as its run starts, from the audience and
    predictions of that moment, and set beside that run's figures only."""
    first, second = datetime(2026, 6, 10, 12, 0, tzinfo=UTC), datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
    with db.session_scope() as session:
        ids = _world(session, predicted=True)
        campaign = create_campaign(session, create_template(session, body="Weekly https://shop.example/w"),
                                   recurrence="0 12 * * 3", timezone="UTC", frequency_cap=0, **ALL_DAY)
        campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", first, first  # as the CLI does
        cid = campaign.id
    tasks.sweep(now=first)
    _deliver_run(cid, first, clickers=ids[:3], buyers=ids[:2])
    with db.session_scope() as session:  # between the runs: 20 newcomers, seven times as likely to buy (0.7)
        newcomers = [create_contact(session, 100 + i, timezone="UTC").id for i in range(20)]
        model = store.register_version(session, kind="purchase_90d", version="t2")
        store.write_predictions(session, model, [store.Score(i, 0.7) for i in newcomers])
        ids += newcomers
        assert session.get_one(Campaign, cid).status == "scheduled"
    tasks.sweep(now=second)
    _deliver_run(cid, second, clickers=ids[-1:], buyers=ids[-5:])
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        rows = session.scalars(select(CampaignForecast).where(CampaignForecast.campaign_id == cid)
                               .order_by(CampaignForecast.run)).all()
        assert [(r.run, r.made_at.replace(tzinfo=UTC), r.forecast["recipients"]) for r in rows] == [
            (1, first, 60), (2, second, 80)]
        compared = forecasting.comparison(session, campaign)
    assert compared is not None and [r["run"] for r in compared["runs"]] == [1, 2] and compared["run"] == 2
    one, two = ({m["metric"]: m for m in r["metrics"]} for r in compared["runs"])
    assert (one["delivered"]["actual"], one["clicks"]["actual"], one["conversions"]["actual"]) == (60, 3, 2)
    assert (two["delivered"]["actual"], two["clicks"]["actual"], two["conversions"]["actual"]) == (80, 1, 5)
    assert one["revenue_micros"]["actual"] == 60_000_000 and two["revenue_micros"]["actual"] == 150_000_000
    # the second forecast weighs 60 × 1 + 20 × 7 = 200 recipients' worth of buying instead of 60
    assert two["conversions"]["forecast"]["expected"] > 2.5 * one["conversions"]["forecast"]["expected"]
    assert compared["metrics"] == compared["runs"][1]["metrics"]
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    html = app_client.get(f"/console/campaigns/{cid}", headers={"Accept": "text/html"}).text
    table = html.split('<table id="forecast-vs-actual"')[1].split("</table>")[0]
    assert [part.split('"')[0] for part in table.split('<tbody data-run="')[1:]] == ["2", "1"]  # latest first
    assert "Send 1: forecast made 2026-06-10 12:00 (UTC)" in table
    assert "Send 2: forecast made 2026-06-17 12:00 (UTC)" in table
    delivered = {run: table.split(f'<tbody data-run="{run}">')[1].split('data-metric="delivered">')[1].split("</tr>")[0]
                 for run in (1, 2)}
    assert '<td data-label="Actual">60</td>' in delivered[1] and '<td data-label="Actual">80</td>' in delivered[2]


def test_a_run_not_started_has_its_forecast_but_no_actual_figures(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        _world(session, predicted=False)
        draft_id = create_campaign(session, create_template(session, body="Soon"), **ALL_DAY).id
    later = utcnow() + timedelta(days=2)
    assert app_client.post(f"/api/v1/campaigns/{draft_id}/schedule", headers=headers,
                           json={"send_at": later.isoformat()}).status_code == 200
    answer = app_client.get(f"/api/v1/campaigns/{draft_id}/forecast", headers=headers).json()
    assert answer["stored"] is True and answer["run"] == 1 and len(answer["runs"]) == 1
    assert {m["actual"] for m in answer["metrics"]} == {None} and {m["within80"] for m in answer["metrics"]} == {None}


@pytest.mark.usefixtures("runtime_any_db")
def test_a_runs_figures_are_its_own_on_sqlite_and_postgresql() -> None:
    """A run's messages by their idempotency key; its clicks and conversions from its first message until the
    next run's (a contact clicking in both runs counts in each, a conversion without a contact by its time)."""
    first, second = datetime(2026, 6, 10, 12, 0, tzinfo=UTC), datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    with db.session_scope() as session:
        ids = [create_contact(session, i, timezone="UTC").id for i in range(4)]
        campaign = create_campaign(session, create_template(session, body="Weekly"), recurrence="0 12 * * 3")
        campaign.run = 2
        link = CampaignLink(campaign_id=campaign.id, url="https://shop.example/w")
        session.add(link)
        session.flush()
        for run, at, status in ((1, first, "delivered"), (2, second, "sent")):
            for contact_id in ids:
                session.add(Message(contact_id=contact_id, direction="out", body="Weekly", status=status,
                                    lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                                    price_micros=40_000, created_at=at,
                                    idempotency_key=f"campaign:{campaign.id}:{run}:{contact_id}"))
        for contact_id, at in ((ids[0], first + hour), (ids[1], first + hour), (ids[0], second + hour)):
            session.add(LinkClick(link_id=link.id, campaign_id=campaign.id, contact_id=contact_id, clicked_at=at))
        for n, (contact_id, at, value) in enumerate(((ids[0], first + hour, 10), (ids[2], second + hour, 20),
                                                     (None, second + 2 * hour, 5))):
            session.add(Conversion(campaign_id=campaign.id, contact_id=contact_id, reference=f"r{n}",
                                   value_micros=value * 1_000_000, created_at=at))
        session.flush()
        one, two = reporting.run_summary(session, campaign, 1), reporting.run_summary(session, campaign, 2)
        everything = reporting.summary(session, campaign.id)
    assert (one["messages"], one["delivered"], one["cost_micros"]) == (4, 4, 160_000)
    assert (two["messages"], two["sent"], two["delivered"]) == (4, 4, 0)
    assert (one["unique_clicks"], two["unique_clicks"], everything["unique_clicks"]) == (2, 1, 2)
    assert (one["conversions"], one["conversion_value_micros"]) == (1, 10_000_000)
    assert (two["conversions"], two["conversion_value_micros"]) == (2, 25_000_000)
    assert everything["conversions"] == 3 and everything["messages"] == 8


def test_a_forecast_that_fails_never_holds_up_the_run(runtime: object, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Fault injection: the simulation itself breaks as a run starts; the run is prepared all the same."""
    def broken(*args: object, **kwargs: object) -> None:
        raise FloatingPointError("a broken draw")

    monkeypatch.setattr(forecasting, "forecast", broken)
    moment = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    with db.session_scope() as session:
        create_contact(session, 1, timezone="UTC")
        campaign = create_campaign(session, create_template(session, body="Weekly"), recurrence="0 12 * * 3",
                                   timezone="UTC", frequency_cap=0, **ALL_DAY)
        campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", moment, moment
        cid = campaign.id
    tasks.sweep(now=moment)
    assert tasks.prepare_campaign(cid, now=moment) == 1
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).run == 1
        assert session.scalars(select(CampaignForecast).where(CampaignForecast.campaign_id == cid)).all() == []
    assert "no forecast stored for campaign" in caplog.text and "a broken draw" in caplog.text


def test_an_adaptive_campaigns_control_is_not_forecast_as_texted(runtime: object) -> None:
    with db.session_scope() as session:
        ids = _world(session, predicted=False)
        a, b = (create_template(session, body=f"Offer {n}", name=n) for n in "AB")
        arms = [{"name": "A", "template_id": a.id}, {"name": "B", "template_id": b.id}]
        plain = create_campaign(session, a, **ALL_DAY)
        bandit = create_campaign(session, a, ab={"mode": "adaptive", "arms": arms, "control_share": 0.2}, **ALL_DAY)
        kept = forecasting.texted(bandit, ids)
        made = {c.id: forecasting.compute(session, c, now=utcnow()) for c in (plain, bandit)}
    assert len(kept) == 48 and set(kept) < set(ids) and forecasting.texted(plain, ids) == ids
    assert (made[plain.id].recipients, made[bandit.id].recipients) == (60, 48)  # 12 held back with no message
    cost = made[bandit.id].figures["cost_micros"]
    assert cost is not None and cost.expected == 48 * 40_000  # the review's cost leaves the control out too
    delivered = (made[plain.id].figures["delivered"], made[bandit.id].figures["delivered"])
    assert delivered[0] is not None and delivered[1] is not None and delivered[1].high95 <= 48


def _scheduled(session: Session, at: datetime, *, recurrence: str = "") -> int:
    """A campaign scheduled for ``at`` as the CLI does (weekly when ``recurrence`` is set)."""
    campaign = create_campaign(session, create_template(session, body="Weekly https://shop.example/w"),
                               recurrence=recurrence, timezone="UTC", frequency_cap=0, **ALL_DAY)
    campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", at, at
    return campaign.id


def _remove(session: Session, campaign_id: int) -> None:
    for table in (LinkClick, Conversion, Message, CampaignForecast, CampaignLink):
        session.execute(delete(table).where(table.campaign_id == campaign_id))  # type: ignore[attr-defined]
    session.execute(delete(Campaign).where(Campaign.id == campaign_id))


def test_finished_runs_of_a_recurring_campaign_are_past_campaigns(runtime: object) -> None:
    """Controlled clock: a weekly campaign never reaches ``completed``, yet its two finished runs change a
    draft's forecast exactly as two completed one-off campaigns with the same figures do."""
    first, second = datetime(2026, 6, 10, 12, 0, tzinfo=UTC), datetime(2026, 6, 17, 12, 0, tzinfo=UTC)
    later = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # past the frequency window of the second run
    outcomes = ((first, 6, 3), (second, 9, 2))  # when, how many clicked, how many bought
    with db.session_scope() as session:
        ids = [create_contact(session, i, timezone="UTC").id for i in range(60)]
        model = store.register_version(session, kind="purchase_90d", version="t1")
        store.write_predictions(session, model, [store.Score(i, 0.05 + 0.01 * (i % 10)) for i in ids])
        sale = create_template(session, body="New sale https://shop.example/new")
        draft_id = create_campaign(session, sale, **ALL_DAY).id

    def draft_forecast() -> tuple[list[PastCampaign], dict[str, Any]]:
        with db.session_scope() as session:
            draft = session.get_one(Campaign, draft_id)
            made = forecasting.inputs_for(session, draft, preview.estimate(session, draft, start=later, now=later))
            return made.past, forecasting.compute(session, draft, now=later).as_dict()

    prior = draft_forecast()
    with db.session_scope() as session:
        weekly = _scheduled(session, first, recurrence="0 12 * * 3")
    for at, clicked, bought in outcomes:
        tasks.sweep(now=at)
        _deliver_run(weekly, at, clickers=ids[:clicked], buyers=ids[:bought])
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, weekly)
        assert (campaign.status, campaign.run, list(forecasting.finished_runs(campaign))) == ("scheduled", 2, [1, 2])
    from_runs = draft_forecast()
    with db.session_scope() as session:
        _remove(session, weekly)
        one_offs = [_scheduled(session, at) for at, _, _ in outcomes]
    for campaign_id, (at, clicked, bought) in zip(one_offs, outcomes, strict=True):
        tasks.sweep(now=at)
        _deliver_run(campaign_id, at, clickers=ids[:clicked], buyers=ids[:bought])
    with db.session_scope() as session:
        assert [session.get_one(Campaign, i).status for i in one_offs] == ["completed", "completed"]
    from_one_offs = draft_forecast()

    assert prior[0] == [] and prior[1]["sources"]["delivered"] == "population prior"
    assert from_runs[0] == [PastCampaign(sent=60, delivered=60, clicked=9, converted=2, converted_unclicked=0),
                            PastCampaign(sent=60, delivered=60, clicked=6, converted=3, converted_unclicked=0)]
    assert from_runs[1]["sources"]["delivered"].startswith("2 past campaigns (120 messages)")
    assert from_runs == from_one_offs
    assert from_runs[1]["figures"] != prior[1]["figures"]


def test_finished_runs_follow_the_runs_completion() -> None:
    started, done = datetime(2026, 6, 17, 12, 0), datetime(2026, 6, 17, 14, 0)
    states = {
        "draft": Campaign(run=0),
        "one-off completed": Campaign(run=1, run_started_at=started, completed_at=done),
        "third run under way": Campaign(run=3, run_started_at=done + timedelta(days=7), completed_at=done),
        "between runs": Campaign(run=3, run_started_at=started, completed_at=done),
        "first run under way": Campaign(run=1, run_started_at=started),
    }
    assert {name: list(forecasting.finished_runs(c)) for name, c in states.items()} == {
        "draft": [], "one-off completed": [1], "third run under way": [1, 2], "between runs": [1, 2, 3],
        "first run under way": []}


@pytest.mark.usefixtures("runtime_any_db")
def test_the_latest_finished_runs_are_read_by_when_they_began(monkeypatch: pytest.MonkeyPatch) -> None:
    """A weekly campaign's runs 1 and 3 (its run 2 texted nobody) and a one-off in between: the last two are
    run 3 and the one-off, though the weekly campaign finished last; three take run 1 as well."""
    week = timedelta(days=7)
    start = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    with db.session_scope() as session:
        contact = create_contact(session, 1, timezone="UTC").id
        weekly = create_campaign(session, create_template(session, body="Weekly"), recurrence="0 12 * * 3")
        one_off = create_campaign(session, create_template(session, body="Once"))
        # the weekly campaign's second run texted nobody: it is no history
        for campaign, run, at in ((weekly, 1, start), (one_off, 1, start + week), (weekly, 3, start + 2 * week)):
            session.add(Message(contact_id=contact, direction="out", body="Hi", status="delivered", lane="marketing",
                                author_type="campaign", campaign_id=campaign.id, segments=1, created_at=at,
                                idempotency_key=f"campaign:{campaign.id}:{run}:{contact}"))
        weekly.status, weekly.run = "scheduled", 3
        weekly.run_started_at, weekly.completed_at = start + 2 * week, start + 2 * week + timedelta(hours=2)
        one_off.status, one_off.run = "completed", 1
        one_off.run_started_at, one_off.completed_at = start + week, start + week + timedelta(hours=2)
        session.flush()
        found = {}
        for limit in (2, 3):
            monkeypatch.setattr(forecasting, "PAST_CAMPAIGNS", limit)
            found[limit] = [(c.id, run) for c, run in forecasting.recent_runs(session, exclude=None)]
        without_weekly = [(c.id, run) for c, run in forecasting.recent_runs(session, exclude=weekly.id)]
    assert found[2] == [(weekly.id, 3), (one_off.id, 1)]
    assert found[3] == [(weekly.id, 3), (one_off.id, 1), (weekly.id, 1)]
    assert without_weekly == [(one_off.id, 1)]


def _sold_in(session: Session, contact_id: int, currency: str) -> None:
    session.add(Order(contact_id=contact_id, source="api", external_id=f"{currency}-{contact_id}", status="paid",
                      ordered_at=utcnow() - timedelta(days=40), currency=currency, total_micros=30_000_000))


def _ran(session: Session, campaign_id: int) -> None:
    """The campaign's one run: 60 messages delivered at 0.04 each (2.40 of cost), two conversions of 30.00."""
    campaign = session.get_one(Campaign, campaign_id)
    campaign.status, campaign.run = "completed", 1
    for contact_id in range(1, 61):
        session.add(Message(contact_id=contact_id, direction="out", body="New sale", status="delivered",
                            lane="marketing", author_type="campaign", campaign_id=campaign_id, segments=1,
                            price_micros=40_000, idempotency_key=f"campaign:{campaign_id}:1:{contact_id}"))
    for n in (1, 2):
        session.add(Conversion(campaign_id=campaign_id, contact_id=n, reference=f"new-{n}", value_micros=30_000_000))


def _scheduled_and_ran(app_client: TestClient, headers: dict[str, str], *,
                       orders_in: str) -> tuple[int, dict[str, Any]]:
    """A draft's forecast (JSON) over a world whose orders are in ``orders_in``; then the campaign is
    scheduled (its forecast stored) and run."""
    with db.session_scope() as session:
        ids = _world(session, predicted=False)
        _sold_in(session, ids[0], orders_in)
        draft_id = create_campaign(session, create_template(session, body="New sale"), **ALL_DAY).id
    draft = app_client.get(f"/api/v1/campaigns/{draft_id}/forecast", headers=headers)
    assert draft.status_code == 200, draft.text
    scheduled = app_client.post(f"/api/v1/campaigns/{draft_id}/schedule", headers=headers,
                                json={"send_at": (utcnow() + timedelta(days=1)).isoformat()})
    assert scheduled.status_code == 200, scheduled.text
    with db.session_scope() as session:
        _ran(session, draft_id)
    return draft_id, draft.json()


def _console_roi(app_client: TestClient, campaign_id: int) -> str:
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    html = app_client.get(f"/console/campaigns/{campaign_id}", headers={"Accept": "text/html"}).text
    return html.split('data-metric="roi">', 1)[1].split("</tr>", 1)[0]


def test_an_roi_in_one_currency_is_unchanged(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    campaign_id, draft = _scheduled_and_ran(app_client, headers, orders_in="EUR")  # SMS prices: EUR by default
    assert draft["currencies"] == {"revenue": "EUR", "cost": "EUR"} and draft["exchange_rate"] is None
    assert draft["figures"]["roi"] is not None and draft["sources"]["roi"] == "(revenue − cost) ÷ cost, per draw"
    answer = app_client.get(f"/api/v1/campaigns/{campaign_id}/forecast", headers=headers).json()
    roi = next(m for m in answer["metrics"] if m["metric"] == "roi")
    assert roi["actual"] == pytest.approx((60.0 - 2.4) / 2.4)


def test_an_roi_between_two_currencies_without_a_rate_is_not_a_number(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    campaign_id, draft = _scheduled_and_ran(app_client, headers, orders_in="GBP")
    reason = "revenue in GBP, cost in EUR: set RELAIS_EXCHANGE_RATES"
    assert draft["currencies"] == {"revenue": "GBP", "cost": "EUR"} and draft["exchange_rate"] is None
    assert draft["figures"]["revenue_micros"] is not None  # revenue alone is still forecast, in GBP
    assert draft["figures"]["roi"] is None and draft["sources"]["roi"].startswith(reason)
    answer = app_client.get(f"/api/v1/campaigns/{campaign_id}/forecast", headers=headers).json()
    roi = next(m for m in answer["metrics"] if m["metric"] == "roi")
    # before: 24.0, 60 GBP of revenue over 2.40 EUR of cost
    assert roi["forecast"] is None and roi["actual"] is None and roi["within80"] is None
    assert answer["sources"]["roi"].startswith(reason)
    exported = app_client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv", headers=headers)
    assert exported.status_code == 200, exported.text
    rows = {(scope, metric): value for scope, metric, value in csv.reader(io.StringIO(exported.text))}
    assert rows[("forecast run 1", "roi.basis")].startswith(reason) and rows[("forecast run 1", "roi.actual")] == "n/a"
    assert rows[("forecast run 1", "currency.revenue")] == "GBP" and rows[("forecast run 1", "exchange_rate")] == "n/a"
    row = _console_roi(app_client, campaign_id)
    # the console says it in words to everyone but admins (3f0d541)
    words = "n/a: revenue is in GBP and cost in EUR, and no exchange rate between them is set yet: an administrator"
    assert f'<td data-label="Forecast">{words}' in row and "RELAIS_EXCHANGE_RATES" not in row
    assert '<td data-label="Actual">n/a</td>' in row
    assert "GBP" in _console_row(app_client, campaign_id, "revenue_micros")


def _console_row(app_client: TestClient, campaign_id: int, metric: str) -> str:
    html = app_client.get(f"/console/campaigns/{campaign_id}", headers={"Accept": "text/html"}).text
    return html.split(f'data-metric="{metric}">', 1)[1].split("</tr>", 1)[0]


def test_an_roi_between_two_currencies_converts_at_the_configured_rate(
        app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_EXCHANGE_RATES", "GBP:EUR=1.17")
    get_settings.cache_clear()
    headers = auth_headers("marketer")
    campaign_id, draft = _scheduled_and_ran(app_client, headers, orders_in="GBP")
    assert draft["exchange_rate"] == {"from": "GBP", "to": "EUR", "rate": 1.17}
    assert "revenue converted at 1 GBP = 1.17 EUR" in draft["sources"]["roi"]
    revenue, cost, roi = (draft["figures"][k]["expected"] for k in ("revenue_micros", "cost_micros", "roi"))
    assert roi == pytest.approx((revenue * 1.17 - cost) / cost, rel=1e-3)  # the mean of a linear map
    answer = app_client.get(f"/api/v1/campaigns/{campaign_id}/forecast", headers=headers).json()
    actual = next(m for m in answer["metrics"] if m["metric"] == "roi")["actual"]
    assert actual == pytest.approx((60.0 * 1.17 - 2.4) / 2.4)
    assert "1 GBP = 1.17 EUR" in _console_roi(app_client, campaign_id)


def test_a_forecast_reads_its_recipients_with_the_same_statements_whatever_their_number(
    runtime_any_db: object,
) -> None:
    """The forecast runs inside the schedule call: on PostgreSQL its reads take the recipients' ids
    as one array, not an IN list of a placeholder per recipient that psycopg parses anew each time."""
    from sqlalchemy import event

    with db.session_scope() as session:
        draft = create_campaign(session, create_template(session, body="New sale"), **ALL_DAY).id
    widest = []
    for first, count in ((0, 10), (10, 20)):  # everyone: 10 recipients, then 30
        with db.session_scope() as session:
            for n in range(first, first + count):
                create_contact(session, n)
        seen = [0]

        def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if not statement.lstrip().upper().startswith("INSERT"):  # the brand profile, made once
                seen[0] = max(seen[0], len(parameters or ()))  # noqa: B023 - read right after this forecast

        event.listen(db.engine(), "before_cursor_execute", keep)
        try:
            with db.session_scope() as session:
                made = forecasting.compute(session, session.get_one(Campaign, draft), now=utcnow())
        finally:
            event.remove(db.engine(), "before_cursor_execute", keep)
        widest.append(seen[0])
        assert made.recipients == first + count
    if db.engine().dialect.name == "postgresql":
        assert widest[0] == widest[1], widest


def test_a_text_without_a_link_forecasts_no_click_and_only_the_conversions_without_one(runtime: object) -> None:
    """The forecast gave a draft with no link the past campaigns' clicks (nobody can click a text without one)
    and their conversions, most of which came through a link."""
    with db.session_scope() as session:
        ids = _world(session, predicted=False)  # every past conversion by a clicker: 6 conversions, 0 unclicked
        for campaign_id in session.scalars(select(Campaign.id).where(Campaign.name == "past")):
            for contact_id in ids[40:42]:  # two buyers per past campaign who never clicked it
                session.add(Conversion(campaign_id=campaign_id, contact_id=contact_id,
                                       reference=f"walk-in-{campaign_id}-{contact_id}", value_micros=30_000_000))
        session.flush()
        linked = create_campaign(session, create_template(session, body="New sale https://shop.example/sale"),
                                 **ALL_DAY)
        linkless = create_campaign(session, create_template(session, body="New sale in our shop"), **ALL_DAY)
        with_link = forecasting.compute(session, linked, now=utcnow())
        without = forecasting.compute(session, linkless, now=utcnow())
        past = forecasting._past(session, None)[0]
    assert sorted(p.converted_unclicked or 0 for p in past) == [2, 2, 2]
    linked_clicks, clicks = with_link.figures["clicks"], without.figures["clicks"]
    assert with_link.clickable == 1.0 and linked_clicks is not None and linked_clicks.expected > 4  # 18 of 180
    assert without.clickable == 0.0 and clicks is not None
    assert (clicks.expected, clicks.low95, clicks.high95) == (0.0, 0.0, 0.0)
    assert without.sources["clicks"].startswith("no link in the text")
    assert without.sources["conversions"].startswith("conversions by recipients who did not click: 3 past campaigns")
    # 6 of 180 delivered bought without clicking, 12 of 180 in all
    bought, unclicked = with_link.figures["conversions"], without.figures["conversions"]
    assert bought is not None and unclicked is not None and unclicked.expected < 0.7 * bought.expected


def test_an_ab_test_with_one_arm_without_a_link_forecasts_clicks_for_the_other(runtime: object) -> None:
    with db.session_scope() as session:
        _world(session, predicted=False)
        linked = create_template(session, body="Sale https://shop.example/sale")
        plain = create_template(session, body="Sale in our shop")
        both = create_campaign(session, linked, **ALL_DAY)
        both.ab = {"arms": [{"name": "A", "template_id": linked.id, "weight": 3},
                            {"name": "B", "template_id": plain.id, "weight": 1}], "test_percent": 100,
                   "metric": "conversions", "winner_after_hours": 4}
        session.flush()
        made = forecasting.compute(session, both, now=utcnow())
    assert made.clickable == 0.75
    assert "for the 75% of recipients whose text has a link" in made.sources["clicks"]


def test_a_translations_link_counts_for_the_recipients_who_get_it(runtime: object) -> None:
    """Link detection read the main template alone: an English text without a link whose French translation has
    one forecast 0 clicks for everyone (and an English link with a plain French translation clicks for all). Each
    recipient counts with the text preparation gives them: the translation for their language."""
    with db.session_scope() as session:
        _world(session, predicted=False)
        english = create_template(session, body="Winter sale in our shop", language="en", name="en")
        french = create_template(session, body="Soldes d'hiver https://shop.example/soldes", language="fr", name="fr")
        campaign = create_campaign(session, english, translations={"fr": french.id}, **ALL_DAY)
        made = forecasting.compute(session, campaign, now=utcnow())  # _world's recipients are French
        assert made.clickable == 1.0 and made.figures["clicks"] is not None and made.figures["clicks"].expected > 0
        for n in range(3):  # English speakers join the segment: their text has no link
            create_contact(session, 900 + n, language="en", country="GB", timezone="Europe/London")
        mixed = forecasting.compute(session, campaign, now=utcnow())
        everyone = mixed.recipients
        assert mixed.clickable == pytest.approx((everyone - 3) / everyone)
        linked = create_template(session, body="Winter sale https://shop.example/sale", language="en", name="en2")
        plain = create_template(session, body="Soldes d'hiver en boutique", language="fr", name="fr2")
        reverse = create_campaign(session, linked, translations={"fr": plain.id}, **ALL_DAY)
        assert forecasting.compute(session, reverse, now=utcnow()).clickable == pytest.approx(3 / everyone)
