"""Privacy: export everything held on a person, erase it keeping a tombstone, and encryption at rest."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from channels.base import InboundMessage
from contacts import consent, service
from contacts.models import Contact
from conversations import flows
from conversations.models import Conversation, InboundEvent, Message
from core import db, webhooks
from core.db import utcnow
from core.models import AuditEntry
from core.settings import Settings
from handoff.models import Note
from tests.helpers import auth_headers

NUMBER = "+33612345678"
BODY = "My order 8812 never arrived, my address is 12 rue des Lilas"


def _person_with_history(app_client: TestClient) -> int:
    marketer = auth_headers("marketer")
    app_client.post("/api/v1/contacts/attributes", headers=marketer, json={"name": "city", "type": "string"})
    contact = app_client.post(
        "/api/v1/contacts",
        headers=marketer,
        json={
            "phone": NUMBER,
            "name": "Zoé Martin",
            "first_name": "Zoé",
            "attributes": {"city": "Lyon"},
            "tags": ["vip"],
            "consent": {"action": "opt_in", "source": "form", "proof": "signed up at the Lyon shop"},
        },
    ).json()
    with db.session_scope() as session:  # the real inbound and outbound paths, webhooks subscribed
        webhooks.create_subscription(session, url="https://hooks.example.invalid/h", event_types=["*"])
        inbound = InboundMessage(
            provider="simulator",
            provider_message_id="sim-1",
            from_=NUMBER,
            to="+33700000000",
            text=BODY,
            received_at=utcnow(),
        )
        event_id = flows.stage_inbound(session, inbound=inbound, channel="simulator")
        assert event_id is not None
        message = flows.ingest_event(session, event_id)
        assert message is not None and message.contact_id == contact["id"]
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        flows.queue_outbound(
            session,
            contact=service.get(session, contact["id"]),
            body="Sorry Zoé, checking now",
            lane="conversational",
            author_type="bot",
            conversation=conversation,
        )
        session.add(Note(conversation_id=conversation.id, body="Zoé prefers calls after 6pm"))
        service.record_engagement(session, contact_id=contact["id"], kind="clicked", ref="campaign:3")
    return int(contact["id"])


def test_export_holds_everything_and_is_admin_only_and_audited(app_client: TestClient) -> None:
    cid = _person_with_history(app_client)
    assert (
        app_client.get(f"/api/v1/contacts/{cid}/export", headers=auth_headers("marketer")).status_code == 403
    )
    response = app_client.get(f"/api/v1/contacts/{cid}/export", headers=auth_headers("admin"))
    assert response.status_code == 200
    document = response.json()
    assert document["contact"]["phone"] == NUMBER and document["contact"]["attributes"] == {"city": "Lyon"}
    assert [m["body"] for m in document["messages"]] == [BODY, "Sorry Zoé, checking now"]
    assert document["consent_history"][0]["proof"] == "signed up at the Lyon shop"
    assert [n["body"] for n in document["notes"]] == ["Zoé prefers calls after 6pm"]
    assert document["engagement"] == [
        {"kind": "clicked", "at": document["engagement"][0]["at"], "ref": "campaign:3"}
    ]
    with db.session_scope() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "contact.export"))


def test_erasure_wipes_personal_data_and_keeps_a_tombstone(app_client: TestClient) -> None:
    cid = _person_with_history(app_client)
    admin = auth_headers("admin")
    assert (
        app_client.delete(f"/api/v1/contacts/{cid}", headers=admin).status_code == 422
    )  # erase=true required
    erased = app_client.delete(f"/api/v1/contacts/{cid}", headers=admin, params={"erase": "true"})
    assert erased.status_code == 200 and erased.json()["erased"]["messages"] == 2
    assert (
        app_client.delete(f"/api/v1/contacts/{cid}", headers=admin, params={"erase": "true"}).status_code
        == 409
    )
    with db.session_scope() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        assert (contact.phone, contact.phone_index, contact.name, contact.attributes, contact.tags) == (
            None,
            None,
            None,
            {},
            [],
        )
        assert contact.erased and contact.opted_out
        assert {m.body for m in session.scalars(select(Message))} == {""}
        assert [e.payload for e in session.scalars(select(InboundEvent))] == [{}]
        assert [n.body for n in session.scalars(select(Note))] == [""]
        history = consent.history(session, contact)
        assert [e.action for e in history] == ["opt_in", "opt_out"]
        assert {e.proof for e in history} == {consent.ERASED_PROOF}
        assert history[0].phone_index is not None  # the tombstone: blind index and opt-out state
        # the number is never texted again, even when it comes back as a new contact
        again, created = service.get_or_create_by_phone(session, phone_e164=NUMBER)
        assert created and consent.blocked_contact_ids(session, [again.id], "transactional") == {again.id}
        assert again.timezone == "Europe/Paris"  # inferred from the number
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "contact.erase"))
    document = app_client.get(f"/api/v1/contacts/{cid}/export", headers=admin).json()
    assert document["contact"]["phone"] is None and document["messages"][0]["body"] == ""


def test_no_plaintext_personal_data_in_the_database_file(app_client: TestClient, runtime: Settings) -> None:
    cid = _person_with_history(app_client)
    app_client.post(
        f"/api/v1/contacts/{cid}/consent",
        headers=auth_headers("marketer"),
        json={"action": "opt_out", "source": "api", "proof": "Zoé phoned +33 6 12 34 56 78"},
    )
    with db.engine().connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    raw = b"".join(p.read_bytes() for p in Path(runtime.data_dir).glob("relais.db*"))
    assert len(raw) > 10_000
    # only attributes an admin declares segmentable (non-personal by contract) are indexed in plaintext
    for secret in (
        NUMBER,
        NUMBER[1:],
        "612345678",
        "Zoé Martin",
        "Martin",
        "Lyon",
        BODY,
        "order 8812",  # the number alone may occur by chance (a timestamp's microseconds)
        "Sorry Zo",
        "after 6pm",
    ):
        for form in {secret.encode(), secret.encode("utf-16-le"), json.dumps(secret).encode()}:
            assert form not in raw, f"{secret!r} found in plaintext in the database file"
