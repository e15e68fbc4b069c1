"""The consent ledger, double opt-in, suppression list and the send-time check, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts import consent
from contacts.models import ConsentEvent
from core import db
from core.audit import Actor
from core.errors import ValidationFailed
from core.models import AuditEntry, WebhookDelivery
from core.webhooks import create_subscription
from tests.contacts.helpers import create_contact, phone

PERSON = Actor(type="user", id="7", name="marketer@example.com")


def test_opt_out_keeps_flag_in_sync_and_emits_webhook_once(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        create_subscription(session, url="http://127.0.0.1:9/hook", event_types=["contact.opted_out"])
        contact = create_contact(session, 1)
        consent.record_opt_in(session, contact=contact, source="form", proof="signup form v2")
        assert (contact.consent_status, contact.opted_out) == ("opted_in", False)
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        consent.record_opt_out(
            session, contact=contact, source="natural_language", proof="please stop texting"
        )
        assert (contact.consent_status, contact.opted_out) == ("opted_out", True)
        history = consent.history(session, contact)
        assert [(e.action, e.source) for e in history] == [
            ("opt_in", "form"),
            ("opt_out", "keyword"),
            ("opt_out", "natural_language"),
        ]
        assert history[0].proof == "signup form v2"
        deliveries = session.scalars(select(WebhookDelivery)).all()
        assert [d.event_type for d in deliveries] == ["contact.opted_out"]
        assert deliveries[0].payload["data"]["contact_id"] == contact.id
        assert deliveries[0].payload["data"]["source"] == "keyword"


def test_person_made_changes_are_audited_system_ones_not(runtime: object) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 2)
        consent.record_opt_out(session, contact=contact, source="keyword")
        consent.record_opt_in(session, contact=contact, source="api", proof="asked by phone", actor=PERSON)
        actions = [(a.action, a.actor_id) for a in session.scalars(select(AuditEntry))]
        assert actions == [("contact.opt_in", "7")]


def test_double_opt_in_pending_until_yes(runtime: object) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 3)
        assert consent.confirm_double_opt_in(session, contact) is False  # a plain "yes" reply
        consent.record_opt_in(session, contact=contact, source="form", double_opt_in=True)
        assert contact.consent_status == "pending"
        assert consent.confirm_double_opt_in(session, contact) is True
        assert contact.consent_status == "opted_in"
        assert [e.action for e in consent.history(session, contact)] == ["pending", "opt_in"]
        assert consent.history(session, contact)[-1].source == "double_opt_in"


def test_blocked_contact_ids_by_lane(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        fine, opted_out, suppressed, erased = (create_contact(session, n) for n in (10, 11, 12, 13))
        consent.record_opt_out(session, contact=opted_out, source="keyword")
        consent.suppress_number(session, phone_e164=phone(12), reason="complaint")
        erased.erased = True
        ids = [fine.id, opted_out.id, suppressed.id, erased.id, 999_999]
        assert consent.blocked_contact_ids(session, ids, "marketing") == {
            opted_out.id,
            suppressed.id,
            erased.id,
            999_999,
        }
        assert consent.blocked_contact_ids(session, ids, "conversational") == {
            opted_out.id,
            suppressed.id,
            erased.id,
            999_999,
        }
        # transactional messages still reach people who opted out of marketing
        assert consent.blocked_contact_ids(session, ids, "transactional") == {
            suppressed.id,
            erased.id,
            999_999,
        }


def test_suppression_works_for_numbers_that_are_not_contacts(runtime: object) -> None:
    with db.session_scope() as session:
        consent.suppress_number(session, phone_e164=phone(20), reason="manual", actor=PERSON)
        assert consent.is_suppressed(session, phone(20))
        later = create_contact(session, 20)  # the number becomes a contact afterwards
        assert consent.blocked_contact_ids(session, [later.id], "transactional") == {later.id}
        consent.unsuppress_number(session, phone_e164=phone(20), actor=PERSON)
        assert consent.blocked_contact_ids(session, [later.id], "transactional") == set()


def test_ledger_is_append_only(runtime: object) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 30)
        consent.record_opt_in(session, contact=contact, source="form", proof="x")
    with db.session_scope() as session:
        event = session.scalars(select(ConsentEvent)).one()
        event.source = "api"
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
        session.rollback()
    with db.session_scope() as session:
        event = session.scalars(select(ConsentEvent)).one()
        session.delete(event)
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
        session.rollback()


def test_unknown_source_is_refused(runtime: object) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 40)
        with pytest.raises(ValidationFailed):
            consent.record_opt_out(session, contact=contact, source="telepathy")
        with pytest.raises(ValidationFailed):
            consent.record_opt_in(session, contact=contact, source="natural_language")
