"""The marketing consent policy end to end: preview, preparation, the send job and the report.

Silence is not consent: contacts without an opt-in on record (imported without a consent column,
an unconfirmed double opt-in) get no marketing, and the preview and the report say how many were
excluded and why. ``RELAIS_MARKETING_CONSENT=soft_opt_in`` lets existing customers through.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import tasks, transactional
from campaigns.schemas import EventContact
from contacts import consent
from contacts.models import Contact
from contacts.service import record_engagement
from conversations.flows import queue_outbound, send_job
from conversations.models import Message
from core import db
from core.queue import enqueue_after_commit
from core.settings import get_settings
from tests.campaigns.factories import create_contact
from tests.helpers import auth_headers, run_jobs

ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}
BODY = "Spring sale: -20% this weekend"


def _audience() -> dict[str, list[int]]:
    """Three opted-in contacts and one of every kind the policy excludes (or lets through when soft)."""
    with db.session_scope() as session:
        people = {"opted_in": [create_contact(session, n, language="en", timezone="UTC").id for n in range(3)]}
        silent = [create_contact(session, n, opted_in=False, language="en", timezone="UTC") for n in (10, 11)]
        pending = create_contact(session, 12, opted_in=False, language="en", timezone="UTC")
        consent.record_opt_in(session, contact=pending, source="form", double_opt_in=True)
        stopped = create_contact(session, 13, language="en", timezone="UTC")
        consent.record_opt_out(session, contact=stopped, source="keyword", proof="STOP")
        suppressed = create_contact(session, 14, language="en", timezone="UTC")
        assert suppressed.phone is not None
        consent.suppress_number(session, phone_e164=suppressed.phone, reason="complaint")
        customer = create_contact(session, 15, opted_in=False, language="en", timezone="UTC")
        record_engagement(session, contact_id=customer.id, kind="purchased", ref="order:1001")
        people |= {"silent": [c.id for c in silent], "pending": [pending.id], "stopped": [stopped.id],
                   "suppressed": [suppressed.id], "customer": [customer.id]}
    return people


def _run_campaign(client: TestClient, headers: dict[str, str]) -> int:
    template = client.post("/api/v1/templates", headers=headers, json={"name": "sale", "language": "en", "body": BODY})
    assert template.status_code == 201, template.text
    created = client.post("/api/v1/campaigns", headers=headers,
                          json={"name": "spring", "template_id": template.json()["id"], **ALL_DAY})
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    assert client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={}).status_code == 200
    tasks.prepare_campaign(campaign_id)
    run_jobs()  # the send job, then the simulator's delivery reports
    return campaign_id


def _texted(campaign_id: int) -> dict[int, str]:
    with db.session_scope() as session:
        rows = session.execute(select(Message.contact_id, Message.status).where(Message.campaign_id == campaign_id))
        return {contact_id: status for contact_id, status in rows}


def test_contacts_without_an_opt_in_get_no_marketing_and_the_exclusions_are_counted(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    people = _audience()
    preview = app_client.post("/api/v1/templates/preview", headers=headers, json={"body": BODY, "segment": {}})
    assert preview.status_code == 200, preview.text
    estimate = preview.json()
    assert estimate["recipients"] == 9 and estimate["sendable"] == 3
    assert estimate["excluded"] == {"no_consent": 4, "opted_out": 1, "suppressed": 1}
    assert estimate["estimated_cost_micros"] == 3 * estimate["cost_per_message_micros"]

    campaign_id = _run_campaign(app_client, headers)
    texted = _texted(campaign_id)
    assert set(texted) == set(people["opted_in"])
    assert set(texted.values()) <= {"sent", "delivered"}
    report = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=headers).json()
    assert report["skipped"] == {"no_consent": 4, "opted_out": 1, "suppressed": 1}


def test_soft_opt_in_texts_existing_customers_and_no_other_silent_contact(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_MARKETING_CONSENT", "soft_opt_in")
    get_settings.cache_clear()
    headers = auth_headers("marketer")
    people = _audience()
    campaign_id = _run_campaign(app_client, headers)
    assert set(_texted(campaign_id)) == set(people["opted_in"] + people["customer"])
    report = app_client.get(f"/api/v1/campaigns/{campaign_id}/report", headers=headers).json()
    assert report["skipped"] == {"no_consent": 3, "opted_out": 1, "suppressed": 1}
    with db.session_scope() as session:  # the customer is texted on the soft opt-in, not recorded as opted in
        assert session.get_one(Contact, people["customer"][0]).consent_status == "none"


def test_an_order_makes_the_contact_an_existing_customer(
    runtime_any_db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_MARKETING_CONSENT", "soft_opt_in")
    get_settings.cache_clear()
    with db.session_scope() as session:
        buyer = transactional.resolve_contact(session, contact_id=None, contact=EventContact(phone="+33600000301"))
        browser = create_contact(session, 30, opted_in=False)
        assert consent.consent_verdicts(session, [buyer.id, browser.id], "marketing") == {
            buyer.id: "no_consent", browser.id: "no_consent"}
        # a Shopify orders/create webhook or POST /api/v1/events, with no campaign named
        transactional.handle_event(session, event_type="order.created", contact=buyer,
                                   data={"order": {"id": "5001", "number": "#1001"}}, idempotency_key=None,
                                   source="shopify")
        assert consent.consent_verdicts(session, [buyer.id, browser.id], "marketing") == {browser.id: "no_consent"}


def test_the_send_job_refuses_marketing_without_consent_whatever_queued_it(app_client: TestClient) -> None:
    with db.session_scope() as session:
        silent = create_contact(session, 40, opted_in=False, language="en", timezone="UTC")
        message = queue_outbound(session, contact=silent, body=BODY, lane="marketing", author_type="api")
        enqueue_after_commit(session, send_job([message.id], lane="marketing"))
        message_id = message.id
    run_jobs()
    with db.session_scope() as session:
        refused = session.get_one(Message, message_id)
        assert (refused.status, refused.error_code) == ("rejected", "no_consent")
