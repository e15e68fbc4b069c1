"""What a support agent tripped on walking the demo: a request for a person read "positive", the
Unassigned view said "Nothing here." while Mine held the work, canned responses in English on a
French conversation."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from agent.sentiment import analyze_sentiment_batch, load_sentiment_model
from api.console import language_name
from campaigns import brand
from conversations.models import Message
from core import db
from handoff.models import CannedResponse
from knowledge.embeddings import get_embedder
from tests.console.helpers import conversation_state, create_console_user, escalated_conversation, log_in
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unsure_sentiment_is_shown_neutral(app_client: TestClient) -> None:
    """The model gives "je veux parler à un humain" positive at 0.45 (under one chance in two): the
    thread shows neutral and the model's unsure guess, a sure label as it is."""
    texts = ["je veux parler à un humain", "merci beaucoup, parfait !"]
    model = load_sentiment_model()
    results = analyze_sentiment_batch(texts, get_embedder(model.embedder).embed(texts), model=model)
    assert results[0].label == "positive" and results[0].confidence < 0.5 < results[1].confidence
    conversation_id = escalated_conversation("+33611113301", texts[0], language="fr")
    with db.session_scope() as session:
        message = session.scalars(select(Message).where(Message.conversation_id == conversation_id)).one()
        message.analysis = {**message.analysis, "sentiment": {"label": "positive", "score": results[0].score,
                                                              "confidence": results[0].confidence}}  # fmt: skip
        sure = Message(conversation_id=conversation_id, contact_id=message.contact_id, direction="in",
                       author_type="customer", body=texts[1], status="received", lane="conversational",
                       analysis={"sentiment": {"label": "positive", "score": results[1].score,
                                               "confidence": results[1].confidence}})  # fmt: skip
        session.add(sure)
    page = app_client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    assert f"sentiment neutral (unsure: positive {results[0].confidence:.2f})" in page.text
    assert f"sentiment positive {results[1].confidence:.2f}" in page.text
    assert f"sentiment positive {results[0].confidence:.2f}" not in page.text


def _refresh_url(html: str) -> str:
    found = re.search(r'<div id="inbox"[^>]*hx-get="([^"]+)"', html)
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def test_going_online_lands_on_the_conversations_it_routed(app_client: TestClient) -> None:
    """An Offline agent lands on the queue (2 waiting), goes Online and is routed both: the inbox's
    refresh shows Mine, not an empty queue; the queue, opened on purpose, says where the work is."""
    _, secret = create_console_user("online@example.com", status="offline")
    csrf = log_in(app_client, "online@example.com", secret)
    first, second = escalated_conversation("+33611113311"), escalated_conversation("+33611113312")
    landing = app_client.get("/console/inbox", headers=HTML)
    assert 'data-view="unassigned"' in landing.text and "Nothing here" not in landing.text
    went = app_client.post("/console/status", data={"status": "online"}, headers={"X-CSRF-Token": csrf})
    assert went.status_code == 200 and went.headers["HX-Trigger"] == "inbox-changed"
    refreshed = app_client.get(_refresh_url(landing.text), headers={"HX-Request": "true"})
    assert 'data-view="mine"' in refreshed.text
    assert (
        f'data-conversation-link="{first}"' in refreshed.text and f'data-conversation-link="{second}"' in refreshed.text
    )
    queue = app_client.get("/console/fragments/inbox?view=unassigned", headers={"HX-Request": "true"})
    assert 'data-view="unassigned"' in queue.text
    assert re.search(r"Nothing here\. Your 2 conversations are in\s+<a href=\"/console/inbox\?view=mine\">Mine</a>",
                     queue.text)  # fmt: skip


def test_canned_responses_follow_the_conversations_language_when_translated(app_client: TestClient) -> None:
    """A French conversation is offered the French version of a response written in English and
    French (same shortcut), and an English-only one as it is, marked (English)."""
    conversation_id = escalated_conversation("+33611113321", "Bonjour, où est mon colis ?", language="fr")
    with db.session_scope() as session:
        session.add_all([
            CannedResponse(title="Greeting", body="Hello, I'm looking into it.", language="en", shortcut="hi"),
            CannedResponse(title="Bonjour", body="Bonjour, je regarde cela.", language="fr", shortcut="hi"),
            CannedResponse(title="Refund policy", body="Refunds take 5 days.", language="en", shortcut="refund"),
        ])  # fmt: skip
    page = app_client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    menu = page.text[page.text.index('<select id="canned"') :]
    menu = menu[: menu.index("</select>")]
    assert '<option value="Bonjour, je regarde cela." lang="fr">Bonjour</option>' in menu
    assert "Hello, I&#39;m looking into it." not in menu and "looking into it" not in menu
    assert '<option value="Refunds take 5 days." lang="en">Refund policy (English)</option>' in menu


def test_a_new_canned_response_starts_in_the_business_language(app_client: TestClient) -> None:
    """On the French demo shop (brand languages fr, en) the form offers French first, not English."""
    english = app_client.get("/console/canned", headers={**HTML, **auth_headers("agent")})
    assert '<option value="en" selected>English</option>' in english.text  # no brand languages: English
    with db.session_scope() as session:
        brand.get_profile(session).languages = ["fr", "en"]
    page = app_client.get("/console/canned", headers={**HTML, **auth_headers("agent")})
    form = page.text[page.text.index('id="canned-new"') :]
    form = form[: form.index("</form>")]
    assert '<option value="fr" selected>French</option>' in form and '<option value="en" selected>' not in form
    assert "Give a translation the same shortcut" in form


def test_a_notice_that_generated_nothing_shows_no_bare_none_badge(app_client: TestClient) -> None:
    """The away notice sent on escalation carries path "none" (nothing generated): the thread showed a
    badge reading just "none" under it; a generated answer keeps its path ("offline")."""
    conversation_id = escalated_conversation("+33611113331", "je veux parler à quelqu'un", language="fr")
    with db.session_scope() as session:
        message = session.scalars(select(Message).where(Message.conversation_id == conversation_id)).one()
        sent = (("Nos conseillers sont absents pour le moment.", "none"), ("Nous livrons en 48 h.", "offline"))
        for body, path in sent:
            session.add(Message(conversation_id=conversation_id, contact_id=message.contact_id, direction="out",
                                author_type="bot", body=body, status="delivered", lane="conversational",
                                analysis={"decision": {"action": "reply", "confidence": 0.9}, "path": path}))
    page = app_client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    assert 'title="How the bot answered">offline</span>' in page.text
    assert 'title="How the bot answered">none</span>' not in page.text


def test_no_reply_box_for_a_customer_who_texted_stop_and_a_reply_is_refused_unqueued(app_client: TestClient) -> None:
    """A reply typed to a customer who had texted STOP was taken, shown "queued", then closed "rejected"
    by the send job with no word on why: docs/delivery.md promises no text on any lane, replies
    included. The thread says so in place of the reply box (notes still work), and a reply posted
    anyway, from an older page or the API, is refused before anything is queued or assigned."""
    from contacts.consent import record_opt_out
    from contacts.models import Contact
    from conversations.models import Conversation

    _, secret = create_console_user("stop@example.com")
    csrf = log_in(app_client, "stop@example.com", secret)
    conversation_id = escalated_conversation("+447700900123", "STOP")
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        record_opt_out(session, contact=contact, source="keyword")
    before = conversation_state(conversation_id)
    page = app_client.get(f"/console/conversations/{conversation_id}", headers=HTML)
    assert 'id="reply-form"' not in page.text and 'id="note"' in page.text
    assert ("<strong>No reply can be sent.</strong> Opted out (STOP): no text will be sent, replies included, "
            "until they text START.") in page.text
    refused = app_client.post(f"/console/conversations/{conversation_id}/reply", data={"body": "Can we help?"},
                              headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"] == "no reply can reach this customer: the contact opted out until they text START"
    assert refused.json()["errors"] == [{"field": "to", "reason": "opted_out"}]
    api = app_client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Can we help?"},
                          headers=auth_headers("agent"))  # fmt: skip
    assert api.status_code == 422 and api.json()["errors"][0]["reason"] == "opted_out"
    with db.session_scope() as session:
        outbound = session.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                         Message.direction == "out")).all()  # fmt: skip
        assert outbound == []
    assert conversation_state(conversation_id) == before  # nobody took it by replying


def test_languages_are_said_by_name_a_code_no_locale_knows_stays_as_it_is() -> None:
    """The canned form, its list, the message badges and the template pages showed "fr", "es"."""
    assert [language_name(code) for code in ("fr", "es", "fr-CA", "pt_BR", "xx", "")] == [
        "French", "Spanish", "French (Canada)", "Portuguese (Brazil)", "xx", ""
    ]  # fmt: skip
