"""The consent ledger, double opt-in, suppression list and the send-time check, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from contacts import consent
from contacts.models import ConsentEvent
from contacts.service import record_engagement
from core import db
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict, ValidationFailed
from core.models import AuditEntry, WebhookDelivery
from core.settings import get_settings
from core.webhooks import create_subscription
from tests.contacts.helpers import create_contact, phone

PERSON = Actor(type="user", id="7", name="marketer@example.com")


def test_opt_out_keeps_flag_in_sync_and_emits_webhook_once(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        create_subscription(session, url="https://hooks.example.invalid/hook", event_types=["contact.opted_out"])
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


def test_verdicts_by_lane_give_the_reason(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        opted_in, silent, pending, opted_out, suppressed, carrier, erased = (
            create_contact(session, n) for n in (10, 11, 12, 13, 14, 15, 16)
        )
        consent.record_opt_in(session, contact=opted_in, source="form", proof="signup")
        consent.record_opt_in(session, contact=pending, source="form", double_opt_in=True)
        consent.record_opt_out(session, contact=opted_out, source="keyword")
        consent.suppress_number(session, phone_e164=phone(14), reason="complaint")
        consent.suppress_number(session, phone_e164=phone(15), reason="carrier")
        erased.erased = True
        ids = [opted_in.id, silent.id, pending.id, opted_out.id, suppressed.id, carrier.id, erased.id, 999_999]
        everywhere = {
            opted_out.id: "opted_out",
            suppressed.id: "suppressed",
            carrier.id: "invalid_number",
            erased.id: "erased",
            999_999: "erased",
        }
        # silence and an unconfirmed double opt-in are not consent to marketing
        assert consent.consent_verdicts(session, ids, "marketing") == everywhere | {
            silent.id: "no_consent",
            pending.id: "no_consent",
        }
        # a STOP stops every lane, transactional included
        assert consent.consent_verdicts(session, ids, "conversational") == everywhere
        assert consent.consent_verdicts(session, ids, "transactional") == everywhere
        assert consent.blocked_contact_ids(session, ids, "transactional") == set(everywhere)


def test_opt_out_override_lifts_only_the_opt_out_and_only_on_transactional(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        opted_out, suppressed = create_contact(session, 17), create_contact(session, 18)
        consent.record_opt_out(session, contact=opted_out, source="keyword")
        consent.record_opt_out(session, contact=suppressed, source="keyword")
        consent.suppress_number(session, phone_e164=phone(18), reason="manual")
        ids = [opted_out.id, suppressed.id]
        assert consent.blocked_contact_ids(session, ids, "transactional", override_opt_out=True) == {suppressed.id}
        assert consent.blocked_contact_ids(session, ids, "marketing", override_opt_out=True) == set(ids)
        assert consent.blocked_contact_ids(session, ids, "conversational", override_opt_out=True) == set(ids)


def test_soft_opt_in_lets_recent_customers_through_and_no_one_else(
    runtime_any_db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:
        customer, old_customer, prospect, stopped_customer, declined = (
            create_contact(session, n) for n in (50, 51, 52, 53, 54))
        record_engagement(session, contact_id=customer.id, kind="purchased", ref="order:1001")
        record_engagement(session, contact_id=old_customer.id, kind="purchased", ref="order:7",
                          at=utcnow() - timedelta(days=800))
        record_engagement(session, contact_id=prospect.id, kind="clicked", ref="campaign:1")
        record_engagement(session, contact_id=stopped_customer.id, kind="purchased", ref="order:1002")
        consent.record_opt_out(session, contact=stopped_customer, source="keyword")
        # a customer whose import said "no" to marketing: the soft opt-in must not override the refusal
        record_engagement(session, contact_id=declined.id, kind="purchased", ref="order:1003")
        consent.record_declined(session, contact=declined, source="import")
        ids = [customer.id, old_customer.id, prospect.id, stopped_customer.id, declined.id]
        strict = consent.consent_verdicts(session, ids, "marketing")
        assert strict == {customer.id: "no_consent", old_customer.id: "no_consent", prospect.id: "no_consent",
                          stopped_customer.id: "opted_out", declined.id: "no_consent"}
        monkeypatch.setenv("RELAIS_MARKETING_CONSENT", "soft_opt_in")
        get_settings.cache_clear()
        assert consent.consent_verdicts(session, ids, "marketing") == {
            old_customer.id: "no_consent",  # bought 800 days ago: beyond RELAIS_SOFT_OPT_IN_DAYS (730)
            prospect.id: "no_consent",  # a click is not a purchase
            stopped_customer.id: "opted_out",
            declined.id: "no_consent",
        }
        monkeypatch.setenv("RELAIS_SOFT_OPT_IN_DAYS", "900")
        get_settings.cache_clear()
        assert old_customer.id not in consent.consent_verdicts(session, ids, "marketing")


def test_import_warning_names_the_policy(runtime: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert consent.marketing_consent_warning(0) is None
    text = consent.marketing_consent_warning(412)
    assert text is not None
    assert text.startswith("412 rows have no consent")
    assert "these contacts will not get marketing texts until they opt in" in text
    assert "(Setting RELAIS_MARKETING_CONSENT=opt_in.)" in text
    monkeypatch.setenv("RELAIS_MARKETING_CONSENT", "soft_opt_in")
    get_settings.cache_clear()
    soft = consent.marketing_consent_warning(1)
    assert soft is not None and soft.startswith("1 row has no consent")
    assert "only if they bought something in the last 730 days, until they opt in" in soft


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


def test_a_person_lifts_an_opt_out_only_saying_how_the_customer_asked(runtime: object) -> None:
    """Any agent, marketer or API key could undo a STOP with no word of why; the ledger now says how."""
    with db.session_scope() as session:
        contact = create_contact(session, 19)
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        for proof in ("", "   "):
            with pytest.raises(ValidationFailed) as refused:
                consent.record_opt_in(session, contact=contact, source="api", proof=proof, actor=PERSON)
            assert refused.value.errors[0]["field"] == "proof"
        assert (contact.consent_status, contact.opted_out) == ("opted_out", True)
        consent.record_opt_in(session, contact=contact, source="api", proof="asked again in the Lyon shop",
                              actor=PERSON)
        assert (contact.consent_status, contact.opted_out) == ("opted_in", False)
        assert [e.action for e in consent.history(session, contact)] == ["opt_out", "opt_in"]


def test_a_double_opt_in_is_never_asked_of_a_contact_who_said_stop(runtime: object) -> None:
    """A double opt-in requested for a contact who opted out moved them to pending, toward marketing, on the
    shop's say alone (its request was never texted). It is refused, and nothing is recorded; they come back
    by texting START, or by an opt-in recorded with its proof."""
    with db.session_scope() as session:
        contact = create_contact(session, 20)
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        with pytest.raises(Conflict, match=r"opted out \(STOP\): no confirmation request") as refused:
            consent.record_opt_in(session, contact=contact, source="api", double_opt_in=True, actor=PERSON)
        assert refused.value.errors == [{"field": "double_opt_in", "message": "not for a contact who opted out"}]
        assert (contact.consent_status, contact.opted_out) == ("opted_out", True)
        assert [e.action for e in consent.history(session, contact)] == ["opt_out"]
        assert consent.confirm_double_opt_in(session, contact) is False
        assert consent.consent_verdicts(session, [contact.id], "marketing") == {contact.id: "opted_out"}
        assert session.scalars(select(AuditEntry)).all() == []
        declined = create_contact(session, 21)  # an import's "no" is no STOP: they may be asked to confirm
        consent.record_declined(session, contact=declined, source="import", proof="consent=no")
        consent.record_opt_in(session, contact=declined, source="api", double_opt_in=True, actor=PERSON)
        assert (declined.consent_status, declined.opted_out) == ("pending", False)
        assert consent.confirm_double_opt_in(session, declined) is True
