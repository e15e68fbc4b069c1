"""Campaigns over HTTP with the real database and Redis: opt-out during a run, clicks, reports, lifecycle."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from campaigns import tasks
from campaigns.models import Campaign
from contacts.consent import record_opt_out
from contacts.models import Contact, EngagementEvent
from conversations.models import Message
from core import db
from core.db import utcnow
from core.models import WebhookDelivery
from tests.campaigns.factories import create_contact
from tests.helpers import auth_headers, run_jobs

ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}


def _campaign(client: TestClient, headers: dict[str, str], body: str, **extra: object) -> int:
    template = client.post("/api/v1/templates", headers=headers, json={"name": "t", "language": "en", "body": body})
    assert template.status_code == 201, template.text
    created = client.post("/api/v1/campaigns", headers=headers,
                          json={"name": "launch", "template_id": template.json()["id"], **ALL_DAY, **extra})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_contacts_opting_out_during_a_running_campaign_get_nothing(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        ids = [create_contact(session, i, language="en", timezone="UTC").id for i in range(20)]
    campaign_id = _campaign(app_client, headers, "Big sale {{ first_name | default('') }}")
    scheduled = app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "preparing"
    assert tasks.prepare_campaign(campaign_id) == 20  # messages queued, release jobs waiting in Redis
    leaving = set(ids[::2])
    with db.session_scope() as session:
        for contact in session.scalars(select(Contact).where(Contact.id.in_(leaving))):
            record_opt_out(session, contact=contact, source="keyword", proof="STOP")
    run_jobs()  # the send job: the authority checks consent again at claim time
    with db.session_scope() as session:
        rows = session.execute(select(Message.contact_id, Message.status, Message.error_code, Message.sent_at)
                               .where(Message.campaign_id == campaign_id)).all()
    assert len(rows) == 20
    for contact_id, status, code, sent_at in rows:
        if contact_id in leaving:
            assert (status, code, sent_at) == ("rejected", "opted_out", None)
        else:
            assert status in ("sent", "delivered") and sent_at is not None


def test_opt_out_after_preparation_is_caught_by_the_send_job(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        ids = [create_contact(session, i, language="en", timezone="UTC").id for i in range(6)]
    campaign_id = _campaign(app_client, headers, "Flash sale")
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    assert tasks.prepare_campaign(campaign_id) == 6  # queued, their send job waiting in Redis
    with db.session_scope() as session:
        record_opt_out(session, contact=session.get_one(Contact, ids[0]), source="api")
    run_jobs()
    with db.session_scope() as session:
        rows = {contact: status for contact, status in session.execute(
            select(Message.contact_id, Message.status).where(Message.campaign_id == campaign_id))}
    assert rows.pop(ids[0]) not in ("sent", "delivered", "queued", "sending")
    assert set(rows.values()) <= {"sent", "delivered"}


def test_click_tracking_conversions_report_and_exports(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        ids = [create_contact(session, i, language="en", timezone="UTC").id for i in range(4)]
    campaign_id = _campaign(app_client, headers, "New in: https://shop.example/new?x=1 enjoy")
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:
        bodies = {contact: body for contact, body in session.execute(
            select(Message.contact_id, Message.body).where(Message.campaign_id == campaign_id))}
        session.execute(update(Message).where(Message.campaign_id == campaign_id)
                        .values(status="delivered", sent_at=utcnow(), price_micros=40_000))
    path = "/l/" + bodies[ids[0]].split("/l/")[1].split()[0]
    followed = app_client.get(path, follow_redirects=False)
    assert followed.status_code == 302 and followed.headers["location"] == "https://shop.example/new?x=1"
    app_client.get(path, follow_redirects=False)
    with db.session_scope() as session:
        clicked = session.execute(select(EngagementEvent.contact_id, EngagementEvent.kind, EngagementEvent.ref)).all()
    assert set(clicked) == {(ids[0], "clicked", f"campaign:{campaign_id}")}
    assert app_client.get(path[:-1] + ("A" if path[-1] != "A" else "B"), follow_redirects=False).status_code == 404
    conversion = {"reference": "order-1", "contact_id": ids[0], "value_micros": 25_000_000}
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/conversions", headers=headers,
                           json=conversion).status_code == 201
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/conversions", headers=headers,
                           json=conversion).status_code == 200
    analyst = auth_headers("analyst")
    report = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=analyst).json()
    totals = report["totals"]
    assert totals["sent"] == totals["delivered"] == 4 and totals["delivery_rate"] == 1.0
    assert (totals["clicks"], totals["unique_clicks"], totals["ctr"]) == (2, 1, 0.25)
    assert (totals["conversions"], totals["conversion_value_micros"]) == (1, 25_000_000)
    assert totals["cost_micros"] == 160_000
    exported = app_client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv", headers=analyst)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = {(r["scope"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert rows[("all", "unique_clicks")] == "1"
    xlsx = app_client.get(f"/api/v1/campaigns/{campaign_id}/report?format=xlsx", headers=analyst)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and ("all", "delivered", 4) in list(sheet.iter_rows(values_only=True))
    series = app_client.get("/api/v1/campaigns/timeseries", headers=analyst).json()
    assert sum(day["delivered"] for day in series) == 4 and sum(day["clicks"] for day in series) == 2
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=analyst).status_code == 403


def test_pause_resume_cancel_and_completion_webhook(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    app_client.post("/api/v1/webhooks", headers=admin,
                    json={"url": "https://hooks.example.invalid/hook", "event_types": ["campaign.completed"]})
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        for i in range(3):
            create_contact(session, i, language="en", timezone="UTC")
    campaign_id = _campaign(app_client, headers, "Hello")
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=headers).json()["status"] == "paused"
    assert tasks.prepare_campaign(campaign_id) == 0  # paused: nothing prepared
    resumed = app_client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=headers).json()
    assert resumed["status"] == "preparing"
    assert tasks.prepare_campaign(campaign_id) == 3
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == campaign_id)
                        .values(status="delivered", sent_at=utcnow()))
    tasks.sweep(now=utcnow() + timedelta(seconds=1))
    with db.session_scope() as session:
        assert session.get_one(Campaign, campaign_id).status == "completed"
        hook = session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_type == "campaign.completed"))
        assert hook is not None and hook.payload["data"]["campaign_id"] == campaign_id
        assert hook.payload["data"]["delivered"] == 3
    assert app_client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=headers).status_code == 409
    other = _campaign(app_client, headers, "Second")
    app_client.post(f"/api/v1/campaigns/{other}/schedule", headers=headers, json={})
    tasks.prepare_campaign(other)
    cancelled = app_client.post(f"/api/v1/campaigns/{other}/cancel", headers=headers)
    assert cancelled.json()["status"] == "cancelled"
    with db.session_scope() as session:
        statuses = set(session.scalars(select(Message.status).where(Message.campaign_id == other)))
    assert statuses == {"rejected"}


def test_schedule_validation(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    campaign_id = _campaign(app_client, headers, "Hi")
    bad = app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers,
                          json={"local_time": "10:00", "local_date": "tomorrow"})
    assert bad.status_code == 422
    later = app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers,
                            json={"local_time": "10:00", "local_date": "2099-01-05", "timezone": "Europe/Paris"})
    assert later.json()["status"] == "scheduled" and later.json()["local_time"] == "10:00"
    assert app_client.post("/api/v1/campaigns", headers=headers,
                           json={"name": "x", "template_id": 1, "recurrence": "whenever"}).status_code == 422


def test_the_report_and_each_message_say_why_and_until_when_messages_wait(app_client: TestClient) -> None:
    from datetime import UTC, datetime

    headers = auth_headers("marketer")
    with db.session_scope() as session:
        paris = [create_contact(session, i, timezone="Europe/Paris").id for i in range(3)]
    campaign_id = _campaign(app_client, headers, "Soldes", quiet_start="21:00", quiet_end="08:00",
                            respect_country_rules=False)
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    night = datetime(2026, 6, 12, 21, 30, tzinfo=UTC)  # Friday 23:30 in Paris
    assert tasks.prepare_campaign(campaign_id, now=night) == 3
    report = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=headers).json()
    assert report["waiting"] == [{"reason": "quiet_hours", "count": 3, "next_at": "2026-06-13T06:00:00+00:00",
                                  "detail": "quiet hours until Sat 08:00 Europe/Paris",
                                  "last_at": "2026-06-13T06:00:00+00:00", "details": 1}]
    csv_rows = app_client.get(f"/api/v1/campaigns/{campaign_id}/report?format=csv", headers=headers).text
    assert "all,waiting.quiet_hours,3" in csv_rows
    with db.session_scope() as session:
        message_id = session.scalar(select(Message.id).where(Message.contact_id == paris[0]))
    shown = app_client.get(f"/api/v1/messages/{message_id}", headers=headers).json()
    assert (shown["status"], shown["wait_reason"], shown["wait_detail"]) == (
        "queued", "quiet_hours", "quiet hours until Sat 08:00 Europe/Paris")
    assert shown["not_before"].startswith("2026-06-13T06:00:00") and shown["expires_at"] is None


def test_the_report_counts_messages_being_sent_apart_from_queued_ones(app_client: TestClient) -> None:
    from datetime import UTC, datetime

    from delivery import store

    headers = auth_headers("marketer")
    with db.session_scope() as session:
        for i in range(3):
            create_contact(session, i, timezone="Europe/Paris")
    campaign_id = _campaign(app_client, headers, "Claimed", respect_country_rules=False)
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    noon = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    assert tasks.prepare_campaign(campaign_id, now=noon) == 3
    with db.session_scope() as session:
        first = session.scalars(select(Message.id).where(Message.campaign_id == campaign_id).order_by(Message.id))
        _, claimed = store.claim(session, [next(iter(first))], now=noon)  # a worker took it; the call is under way
        assert len(claimed) == 1
    totals = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=headers).json()["totals"]
    assert (totals["queued"], totals["sending"]) == (2, 1)  # was "queued: 3"


def test_the_report_says_how_many_texts_the_provider_did_not_price(app_client: TestClient) -> None:
    """A provider that says no price (SMPP) left the report's ``cost_micros`` at 0 with nothing to tell it from a
    free campaign, and its forecast read the cost as "outside the 95 % interval"."""
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        for i in range(4):
            create_contact(session, i, language="en", timezone="UTC")
    campaign_id = _campaign(app_client, headers, "Unpriced")
    app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    assert tasks.prepare_campaign(campaign_id) == 4
    with db.session_scope() as session:
        ids = list(session.scalars(select(Message.id).where(Message.campaign_id == campaign_id).order_by(Message.id)))
        # two texts went over SMPP without a price; one failed there (charged nothing); the simulator sent one
        for message_id, status, provider in zip(ids, ("delivered", "sent", "failed", "delivered"),
                                                ("smpp", "smpp", "smpp", "simulator"), strict=True):
            session.execute(update(Message).where(Message.id == message_id)
                            .values(status=status, provider=provider, sent_at=utcnow(), price_micros=None))

    def report() -> tuple[dict[str, object], dict[tuple[str, str], str], list[tuple[object, ...]]]:
        path = f"/api/v1/campaigns/{campaign_id}/report"
        data = app_client.get(path, headers=headers).json()
        text = app_client.get(f"{path}?format=csv", headers=headers).text
        sheet = load_workbook(io.BytesIO(app_client.get(f"{path}?format=xlsx", headers=headers).content)).active
        assert sheet is not None
        flat = {(r["scope"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(text))}
        return data, flat, list(sheet.iter_rows(values_only=True))

    data, flat, sheet = report()
    totals = data["totals"]
    assert isinstance(totals, dict)
    assert (totals["cost_micros"], totals["unpriced_messages"], totals["cost_complete"]) == (0, 2, False)
    assert (flat[("all", "unpriced_messages")], flat[("all", "cost_complete")]) == ("2", "False")
    assert ("all", "unpriced_messages", 2) in sheet and ("all", "cost_complete", False) in sheet
    forecast = data["forecast"]
    assert isinstance(forecast, dict)
    cost = {entry["metric"]: entry for entry in forecast["metrics"]}["cost_micros"]
    assert cost["forecast"] is not None and (cost["within80"], cost["within95"]) == (None, None)
    series = app_client.get("/api/v1/campaigns/timeseries", headers=headers).json()
    assert [(day["cost_micros"], day["unpriced_messages"]) for day in series] == [(0, 2)]

    with db.session_scope() as session:  # one priced: the sum is a floor of the cost
        session.execute(update(Message).where(Message.id == ids[0]).values(price_micros=65_000))
    totals = report()[0]["totals"]
    assert isinstance(totals, dict)
    assert (totals["cost_micros"], totals["unpriced_messages"], totals["cost_complete"]) == (65_000, 1, False)

    with db.session_scope() as session:  # every text the provider sent priced: the cost is known and compared
        session.execute(update(Message).where(Message.id == ids[1]).values(price_micros=65_000))
    data, flat, _ = report()
    totals = data["totals"]
    assert isinstance(totals, dict) and isinstance(data["forecast"], dict)
    assert (totals["cost_micros"], totals["unpriced_messages"], totals["cost_complete"]) == (130_000, 0, True)
    assert flat[("all", "cost_complete")] == "True"
    cost = {entry["metric"]: entry for entry in data["forecast"]["metrics"]}["cost_micros"]
    assert cost["within80"] is not None
