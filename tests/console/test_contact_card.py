"""The contact card beside a thread: the facts on record only, and what the agent must know about
consent said in words (it showed "—" for each empty field and "Subscribed" for anyone not opted out)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from contacts import consent
from contacts.models import Contact
from contacts.service import find_by_phone
from conversations.models import Conversation
from core import db
from core.audit import SYSTEM
from tests.console.helpers import escalated_conversation
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _card(client: TestClient, conversation_id: int) -> str:
    page = client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    assert page.status_code == 200
    found = re.search(r'<dl class="facts" id="contact-card">(.*?)</dl>', page.text, re.S)
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_only_filled_fields_and_no_consent_said_plainly(app_client: TestClient) -> None:
    """A number the shop knows nothing else about (its zone comes from the number): no name, tags or
    campaign texts, and no consent on record."""
    conversation_id = escalated_conversation("+33611114401")
    card = _card(app_client, conversation_id)
    assert "—" not in card and "Name" not in card and "Tags" not in card and "Campaign" not in card
    assert "Phone +33611114401" in card and "Language English" in card and "Time zone Europe/Paris (" in card
    assert "Consent No consent on record: cannot receive marketing" in card and "Subscribed" not in card


def test_opted_in_opted_out_and_the_contacts_local_time(app_client: TestClient) -> None:
    opted_in = escalated_conversation("+33611114402")
    opted_out = escalated_conversation("+33611114403")
    with db.session_scope() as session:
        contact = find_by_phone(session, "+33611114402")
        assert contact is not None
        contact.name, contact.timezone, contact.tags = "Zoé Martin", "Europe/Paris", ["vip"]
        consent.record_opt_in(session, contact=contact, source="form", proof="signed up in store")
        leaver = find_by_phone(session, "+33611114403")
        assert leaver is not None
        consent.record_opt_out(session, contact=leaver, source="keyword", proof="STOP", actor=SYSTEM)
    card = _card(app_client, opted_in)
    assert "Name Zoé Martin" in card and "Tags vip" in card and "Consent Opted in to marketing" in card
    assert re.search(r"Time zone Europe/Paris \(\d\d:\d\d there\)", card), card
    refused = "Consent Opted out (STOP): no text will be sent, replies included, until they text START"
    assert refused in _card(app_client, opted_out)


def test_the_contact_page_leaves_out_empty_fields_and_says_what_consent_allows(app_client: TestClient) -> None:
    escalated_conversation("+33611114404")
    with db.session_scope() as session:
        contact = find_by_phone(session, "+33611114404")
        assert contact is not None
        contact.language, contact_id = None, contact.id
    page = app_client.get(f"/console/contacts/{contact_id}", headers={**HTML, **auth_headers("marketer")})
    found = re.search(r'<dl class="facts" id="contact-facts">(.*?)</dl>', page.text, re.S)
    assert found is not None
    details = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    assert "—" not in details and "Language" not in details and "Tags" not in details
    assert "Consent none No consent on record: cannot receive marketing" in details


def test_a_declined_marketing_consent_is_said_apart_from_a_stop(app_client: TestClient) -> None:
    """An import's "no" to marketing (consent_status opted_out, no STOP) read "No consent on record" under an
    "opted out" badge: the agent could not tell it from a STOP, nor that replies still reach the customer."""
    escalated_conversation("+33611114405")
    with db.session_scope() as session:
        contact = find_by_phone(session, "+33611114405")
        assert contact is not None
        consent.record_declined(session, contact=contact, source="import", proof="import row 3")
        contact_id = contact.id
    page = app_client.get(f"/console/contacts/{contact_id}", headers={**HTML, **auth_headers("marketer")})
    found = re.search(r'<dl class="facts" id="contact-facts">(.*?)</dl>', page.text, re.S)
    assert found is not None
    details = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())
    assert "Consent declined marketing Declined marketing: service texts and replies still reach them" in details
    listed = app_client.get("/console/contacts", headers={**HTML, **auth_headers("marketer")})
    assert ">declined marketing</span>" in listed.text and ">opted out</span>" not in listed.text


def test_language_and_country_are_named_on_the_card_and_the_contact_page(app_client: TestClient) -> None:
    """The card read "Language fr", "Country FR": codes an agent had to decode."""
    conversation_id = escalated_conversation("+33611114409", "Bonjour, je veux parler à quelqu'un", language="fr")
    with db.session_scope() as session:
        contact = session.get_one(Contact, session.get_one(Conversation, conversation_id).contact_id)
        contact.country, contact_id = "FR", contact.id
    card = _card(app_client, conversation_id)
    assert "Language French" in card and "Country France" in card
    page = app_client.get(f"/console/contacts/{contact_id}", headers={**HTML, **auth_headers("admin")}).text
    assert "<dt>Language</dt><dd>French</dd>" in page and "<dt>Country</dt><dd>France</dd>" in page
