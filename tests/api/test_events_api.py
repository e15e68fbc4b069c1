"""Transactional events: mapping per language, idempotency, transactional lane, conversions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns.models import Conversion
from conversations.models import Message
from core import db
from tests.helpers import auth_headers


def _template(client: TestClient, headers: dict[str, str], body: str, language: str) -> int:
    response = client.post("/api/v1/templates", headers=headers, json={
        "name": f"order-{language}", "kind": "transactional", "language": language, "body": body,
        "event_fields": ["order.number", "order.total", "tracking.url?"],
    })
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_order_events_send_templated_messages_on_the_transactional_lane(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    fr = _template(app_client, headers, "Commande {{ event.order.number }} confirmée ({{ event.order.total }} €)", "fr")
    en = _template(app_client, headers, "Order {{ event.order.number }} confirmed", "en")
    for language, template_id in (("fr", fr), ("*", en)):
        mapped = app_client.put("/api/v1/events/templates", headers=headers,
                                json={"event_type": "order.created", "language": language, "template_id": template_id})
        assert mapped.status_code == 200, mapped.text
    event = {"type": "order.created", "contact": {"phone": "+33612345678", "language": "fr", "first_name": "Léa"},
             "data": {"order": {"number": "#1001", "total": "49.90"}}, "idempotency_key": "shop-1001"}
    first = app_client.post("/api/v1/events", headers=headers, json=event)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "sent"
    again = app_client.post("/api/v1/events", headers=headers, json=event)
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] == first.json()["id"]
    other = app_client.post("/api/v1/events", headers=headers, json={
        "type": "order.created", "contact": {"phone": "+14155550100", "language": "en"},
        "data": {"order": {"number": "#7", "total": "1"}}})
    with db.session_scope() as session:
        messages = {m.id: m for m in session.scalars(select(Message))}
    sent = messages[first.json()["message_id"]]
    assert sent.body == "Commande #1001 confirmée (49.90 €)" and sent.lane == "transactional"
    assert "STOP" not in sent.body
    assert messages[other.json()["message_id"]].body == "Order #7 confirmed"
    assert len(messages) == 2


def test_unmapped_event_and_bad_contact(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    unmapped = app_client.post("/api/v1/events", headers=headers,
                               json={"type": "order.refunded", "contact": {"phone": "+33612345678"}})
    assert unmapped.status_code == 202 and unmapped.json()["status"] == "no_template"
    bad = app_client.post("/api/v1/events", headers=headers, json={"type": "order.created", "contact": {"phone": "12"}})
    assert bad.status_code == 422
    missing = app_client.post("/api/v1/events", headers=headers, json={"type": "order.created"})
    assert missing.status_code == 422
    assert app_client.post("/api/v1/events", headers=headers, json={"type": "x", "contact_id": 999}).status_code == 404


def test_marketing_template_cannot_serve_events(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    template = app_client.post("/api/v1/templates", headers=headers, json={"name": "m", "body": "promo"}).json()
    response = app_client.put("/api/v1/events/templates", headers=headers,
                              json={"event_type": "order.created", "template_id": template["id"]})
    assert response.status_code == 422


def test_order_event_naming_a_campaign_records_a_conversion(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    template = app_client.post("/api/v1/templates", headers=headers, json={"name": "m", "body": "promo"}).json()
    campaign = app_client.post("/api/v1/campaigns", headers=headers,
                               json={"name": "c", "template_id": template["id"]}).json()
    app_client.post("/api/v1/events", headers=headers, json={
        "type": "order.created", "contact": {"phone": "+33612345678"},
        "data": {"campaign_id": campaign["id"], "order": {"id": "55", "total_micros": 9_900_000}}})
    with db.session_scope() as session:
        conversion = session.scalar(select(Conversion))
    assert conversion is not None and conversion.campaign_id == campaign["id"]
    assert (conversion.reference, conversion.value_micros, conversion.source) == ("55", 9_900_000, "event")


def test_a_one_time_code_event_carries_its_expiry(app_client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    headers = auth_headers("marketer")
    template_id = _template(app_client, headers, "Code {{ event.order.number }}", "en")
    app_client.put("/api/v1/events/templates", headers=headers,
                   json={"event_type": "otp.requested", "language": "*", "template_id": template_id})
    until = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    posted = app_client.post("/api/v1/events", headers=headers, json={
        "type": "otp.requested", "contact": {"phone": "+33612345678"}, "data": {"order": {"number": "123456"}},
        "expires_at": until.isoformat()})
    assert posted.status_code == 202, posted.text
    with db.session_scope() as session:
        message = session.get_one(Message, posted.json()["message_id"])
        assert message.expires_at is not None and message.expires_at.replace(tzinfo=UTC) == until
