"""Least privilege on the messages API: each role reads only its lanes; ad-hoc sends respect consent.

End to end on the simulator channel with real workers: what the API refuses, what the send job
refuses when consent changed after the API accepted a message, and the audited admin override.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contacts import consent
from contacts.service import get_or_create_by_phone
from conversations.models import Message
from core import db
from core.models import AuditEntry
from tests.handoff.factories import create_conversation
from tests.helpers import create_api_key, run_jobs


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(role, name=role)}"}


def _opted_out(phone: str) -> None:
    with db.session_scope() as session:
        contact, _ = get_or_create_by_phone(session, phone_e164=phone)
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")


def _received(client: TestClient, phone: str) -> list[str]:
    inbox = client.get("/api/v1/simulator/messages", params={"phone": phone}, headers=bearer("admin"))
    return [m["body"] for m in inbox.json()]


def _ids(client: TestClient, headers: dict[str, str], **params: str) -> set[int]:
    response = client.get("/api/v1/messages", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {m["id"] for m in response.json()}


def test_each_role_reads_only_the_lanes_it_owns(app_client: TestClient) -> None:
    marketer, agent, admin = bearer("marketer"), bearer("agent"), bearer("admin")
    with db.session_scope() as session:
        conversation = create_conversation(session, "+33600000201")
        common = {"contact_id": conversation.contact_id, "conversation_id": conversation.id, "lane": "conversational"}
        inbound = Message(direction="in", body="my parcel is late, order 1234", status="received",
                          author_type="customer", **common)
        reply = Message(direction="out", body="It ships tomorrow.", status="delivered", author_type="bot", **common)
        promo = Message(direction="out", body="-20% this weekend", status="delivered", lane="marketing",
                        author_type="campaign", contact_id=conversation.contact_id)
        session.add_all([inbound, reply, promo])
        session.flush()
        inbound_id, reply_id, promo_id = inbound.id, reply.id, promo.id
    own = app_client.post("/api/v1/messages", json={"to": "+33600000202", "body": "Your code: 1234"}, headers=marketer)
    agents = app_client.post("/api/v1/messages", json={"to": "+33600000203", "body": "We called you"}, headers=agent)
    assert own.status_code == agents.status_code == 202
    own_id, agents_id = own.json()["id"], agents.json()["id"]

    assert _ids(app_client, marketer) == {promo_id, own_id}
    assert _ids(app_client, marketer, direction="in") == set()  # finding 6: support texts stay out of reach
    assert _ids(app_client, marketer, lane="conversational") == set()
    for hidden in (inbound_id, reply_id, agents_id):
        assert app_client.get(f"/api/v1/messages/{hidden}", headers=marketer).status_code == 404
    assert app_client.get(f"/api/v1/messages/{own_id}", headers=marketer).json()["lane"] == "transactional"

    assert _ids(app_client, agent) == {inbound_id, reply_id, agents_id}
    assert app_client.get(f"/api/v1/messages/{promo_id}", headers=agent).status_code == 404

    assert _ids(app_client, admin) == {inbound_id, reply_id, promo_id, own_id, agents_id}
    assert app_client.get("/api/v1/messages", headers=bearer("analyst")).status_code == 403


def test_ad_hoc_sends_never_reach_an_opted_out_or_suppressed_number(app_client: TestClient) -> None:
    marketer = bearer("marketer")
    _opted_out("+33600000211")
    for lane in ("transactional", "conversational", "marketing"):
        refused = app_client.post("/api/v1/messages", headers=marketer,
                                  json={"to": "+33600000211", "body": "Hello", "lane": lane})
        assert refused.status_code == 422, (lane, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"] == [{"field": "to", "reason": "opted_out"}]
        assert "the contact opted out" in refused.json()["detail"]
    with db.session_scope() as session:
        consent.suppress_number(session, phone_e164="+33600000212", reason="complaint")
    suppressed = app_client.post("/api/v1/messages", json={"to": "+33600000212", "body": "Hi"}, headers=marketer)
    assert suppressed.status_code == 422 and suppressed.json()["errors"][0]["reason"] == "suppressed"
    # marketing needs an opt-in on record; a transactional text only needs "not opted out"
    no_consent = app_client.post("/api/v1/messages", headers=marketer,
                                 json={"to": "+33600000213", "body": "-20%", "lane": "marketing"})
    assert no_consent.status_code == 422 and no_consent.json()["errors"][0]["reason"] == "no_consent"
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert app_client.post("/api/v1/messages", json={"to": "+33600000213", "body": "Receipt"},
                           headers=marketer).status_code == 202


def test_a_send_accepted_before_a_stop_is_rejected_at_send_time(app_client: TestClient) -> None:
    accepted = app_client.post("/api/v1/messages", json={"to": "+33600000221", "body": "Your order shipped"},
                               headers=bearer("marketer"))
    assert accepted.status_code == 202
    _opted_out("+33600000221")  # the customer texts STOP before the worker picks the message up
    run_jobs()
    with db.session_scope() as session:
        message = session.get(Message, accepted.json()["id"])
        assert message is not None and (message.status, message.error_code) == ("rejected", "opted_out")
    assert _received(app_client, "+33600000221") == []


def test_opt_out_override_is_admin_only_needs_a_reason_and_is_audited(app_client: TestClient) -> None:
    _opted_out("+33600000231")
    payload = {"to": "+33600000231", "body": "Fraud alert: reply to confirm your card payment",
               "override_opt_out": True, "override_reason": "card fraud alert, account security"}
    assert app_client.post("/api/v1/messages", json=payload, headers=bearer("marketer")).status_code == 403
    assert app_client.post("/api/v1/messages", json=payload, headers=bearer("agent")).status_code == 403
    admin = bearer("admin")
    no_reason = app_client.post("/api/v1/messages", json={**payload, "override_reason": " "}, headers=admin)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "override_reason"
    marketing = app_client.post("/api/v1/messages", json={**payload, "lane": "marketing"}, headers=admin)
    assert marketing.status_code == 422 and marketing.json()["errors"][0]["field"] == "override_opt_out"
    with db.session_scope() as session:
        consent.suppress_number(session, phone_e164="+33600000232", reason="manual")
    suppressed = app_client.post("/api/v1/messages", json={**payload, "to": "+33600000232"}, headers=admin)
    assert suppressed.status_code == 422 and suppressed.json()["errors"][0]["reason"] == "suppressed"

    sent = app_client.post("/api/v1/messages", json=payload, headers=admin)
    assert sent.status_code == 202, sent.text
    assert sent.json()["override_opt_out"] is True
    run_jobs()
    assert app_client.get(f"/api/v1/messages/{sent.json()['id']}", headers=admin).json()["status"] == "delivered"
    assert _received(app_client, "+33600000231") == [payload["body"]]
    with db.session_scope() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "message.override_opt_out")).one()
        assert entry.target_id == str(sent.json()["id"]) and entry.actor_type == "api_key"
        assert entry.diff["override_reason"] == "card fraud alert, account security"


def test_the_stop_confirmation_still_reaches_the_number_that_opted_out(app_client: TestClient) -> None:
    texted = app_client.post("/api/v1/simulator/inbound", json={"from": "+33600000241", "body": "STOP", "id": "s-stop"})
    assert texted.status_code < 300, texted.text
    run_jobs()
    [confirmation] = _received(app_client, "+33600000241")
    assert "START" in confirmation
    with db.session_scope() as session:
        message = session.scalars(select(Message).where(Message.direction == "out")).one()
        assert (message.lane, message.override_opt_out, message.status) == ("transactional", True, "delivered")


def test_the_conversational_lane_only_answers_someone_who_texted_us(app_client: TestClient) -> None:
    marketer = bearer("marketer")
    cold = app_client.post("/api/v1/messages", headers=marketer,
                           json={"to": "+33600000251", "body": "Our new collection is out", "lane": "conversational"})
    assert cold.status_code == 422  # would be marketing without consent under another name
    assert cold.json()["errors"] == [{"field": "lane", "reason": "no_conversation"}]
    with db.session_scope() as session:
        conversation = create_conversation(session, "+33600000252")
        session.add(Message(direction="in", body="Is the lamp back in stock?", status="received",
                            author_type="customer", lane="conversational", contact_id=conversation.contact_id,
                            conversation_id=conversation.id))
    answer = app_client.post("/api/v1/messages", headers=bearer("agent"),
                             json={"to": "+33600000252", "body": "Yes, since this morning", "lane": "conversational"})
    assert answer.status_code == 202, answer.text
