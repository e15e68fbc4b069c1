"""Campaign forecasts: built from past campaigns and contacts' predictions, stored at schedule, set
beside the actual figures afterwards (API and report)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns import forecasting
from campaigns.models import Campaign, CampaignForecast, CampaignLink, Conversion, LinkClick
from conversations.models import Message
from core import db
from core.db import utcnow
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers

ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}


def _past_campaign(session: Session, contact_ids: list[int], *, clicked: int, converted: int) -> int:
    """A completed campaign whose every message was delivered, with clicks and 30.00 conversions."""
    campaign = create_campaign(session, create_template(session, body="Old news"), name="past")
    campaign.status, campaign.completed_at = "completed", utcnow() - timedelta(days=10)
    link = CampaignLink(campaign_id=campaign.id, url="https://shop.example/old")
    session.add(link)
    session.flush()
    for i, contact_id in enumerate(contact_ids):
        session.add(Message(contact_id=contact_id, direction="out", body="Old news", status="delivered",
                            lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                            price_micros=40_000, created_at=utcnow() - timedelta(days=10)))
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
        draft = create_campaign(session, create_template(session, body="New sale"), **ALL_DAY)
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


def test_forecast_is_stored_at_schedule_and_compared_after(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        _world(session, predicted=False)
        template = create_template(session, body="New sale")
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
        campaign.status = "completed"
        for contact_id in range(1, 61):
            session.add(Message(contact_id=contact_id, direction="out", body="New sale", status="queued",
                                lane="marketing", author_type="campaign", campaign_id=draft_id, segments=1))
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
