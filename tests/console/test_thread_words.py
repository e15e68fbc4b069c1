"""What the thread said that misled an agent walking the demo: a hand-back read "resolved" under "Why it
escalated", and the wait notice repeated the bot's decision already shown on the customer's text."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from conversations.models import Conversation, Message
from core import db
from core.audit import SYSTEM
from core.models import User
from handoff import flows
from tests.campaigns.factories import create_campaign, create_template
from tests.console.helpers import assign, create_console_user, escalated_conversation, log_in
from tests.handoff.factories import create_conversation
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}
REASON = "intent 'damaged_item' is handled by people"


def _page(client: TestClient, conversation_id: int) -> str:
    page = client.get(f"/console/conversations/{conversation_id}", headers={**HTML, **auth_headers("agent")})
    assert page.status_code == 200
    return page.text


def test_the_escalation_stands_in_words_through_hand_back_and_close(app_client: TestClient) -> None:
    conversation_id = escalated_conversation("+33611114501")
    assert "Priority P3 · Waiting for an agent" in _page(app_client, conversation_id)
    with db.session_scope() as session:
        flows.handback(session, conversation_id=conversation_id, actor=SYSTEM)
    handed_back = _page(app_client, conversation_id)
    assert "Priority P3 · Handed back to the bot" in handed_back and "· resolved" not in handed_back
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        flows.escalate(session, conversation=conversation, reason="human_requested", notify_customer=False)
        flows.close(session, conversation_id=conversation_id, disposition="no_response", actor=SYSTEM)
    assert "Priority P3 · Closed as no response" in _page(app_client, conversation_id)


def test_a_system_notice_does_not_repeat_the_bots_decision(app_client: TestClient) -> None:
    conversation_id = escalated_conversation("+33611114502")
    with db.session_scope() as session:
        text = session.scalars(select(Message).where(Message.conversation_id == conversation_id)).one()
        decision = {"action": "escalate", "confidence": 0.98, "reason": REASON}
        text.analysis = {**text.analysis, "decision": decision}
        session.add(Message(conversation_id=conversation_id, contact_id=text.contact_id, direction="out",
                            author_type="system", body="Nos conseillers vous répondront dès lundi 9 h.",
                            status="delivered", lane="conversational",
                            analysis={"kind": "after_hours", "decision": decision}))  # fmt: skip
        answered = {"action": "reply", "confidence": 0.73, "reason": "answered from the knowledge base"}
        session.add(Message(conversation_id=conversation_id, contact_id=text.contact_id, direction="in",
                            author_type="customer", body="Et vos délais ?", status="received",
                            lane="conversational", analysis={"decision": answered}))  # fmt: skip
        session.add(Message(conversation_id=conversation_id, contact_id=text.contact_id, direction="out",
                            author_type="bot", body="2 à 4 jours ouvrés.", status="delivered", lane="conversational",
                            analysis={"decision": answered, "path": "offline",
                                      "sources": [{"title": "Quel est le délai de livraison ?"}]}))  # fmt: skip
    page = _page(app_client, conversation_id)
    assert "Nos conseillers vous répondront" in page
    assert page.count(f"Bot decision: {REASON}".replace("'", "&#39;")) == 1
    assert page.count("bot: escalate") == 1
    # the bot's answer repeated "bot: reply 0.73" and its reason under itself; its path and sources stay
    assert page.count("Bot decision: answered from the knowledge base") == 1 and page.count("bot: reply") == 1
    assert 'title="How the bot answered">offline</span>' in page and "Sources (1)" in page


def test_an_out_of_scope_intent_and_an_unsent_reply_say_what_they_are(app_client: TestClient) -> None:
    """"Verkauft ihr Ersatzteile für Kaffeemaschinen?" fits no intent: the badge read "intent 0.78", as if
    a word was missing; an agent's reply the send job refused read a bare "rejected"."""
    conversation_id = escalated_conversation("+4915112340003", "Verkauft ihr Ersatzteile?", language="de")
    with db.session_scope() as session:
        text = session.scalars(select(Message).where(Message.conversation_id == conversation_id)).one()
        text.analysis = {**text.analysis, "intent": {"name": None, "confidence": 0.7785, "out_of_scope": True}}
        session.add(Message(conversation_id=conversation_id, contact_id=text.contact_id, direction="out",
                            author_type="agent", author_id="1", body="Leider nicht.", status="rejected",
                            lane="conversational", error_code="opted_out", error_reason="the contact opted out"))
    page = _page(app_client, conversation_id)
    assert 'title="Intent">intent out of scope 0.78</span>' in page
    assert "Not sent: the contact opted out." in page
    api = app_client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth_headers("agent")).json()
    assert [m["error_reason"] for m in api] == ["", "the contact opted out"]


def test_intents_and_decisions_read_in_words(app_client: TestClient) -> None:
    """The badges showed the model's codes: "intent order_status 0.93", "bot: opt_out 0.97"; the escalation's
    reason names the intent the same way ("A topic that always goes to a person (damaged item)")."""
    conversation_id = escalated_conversation("+4915112340004", "Wo ist meine Bestellung?", language="de")
    with db.session_scope() as session:
        text = session.scalars(select(Message).where(Message.conversation_id == conversation_id)).one()
        text.analysis = {**text.analysis, "intent": {"name": "order_status", "confidence": 0.93},
                         "decision": {"action": "opt_out", "confidence": 0.97, "reason": "asked to stop"}}
    page = _page(app_client, conversation_id)
    assert 'title="Intent">intent order status 0.93</span>' in page
    assert 'title="Bot decision">bot: opt out 0.97</span>' in page
    assert "order_status" not in page and "opt_out 0" not in page


def test_campaign_texts_are_dated_with_their_zone(app_client: TestClient) -> None:
    """The card's campaign list gave a bare UTC date ("2026-11-29" for a text sent on the 30th at 00:30
    in Paris); it is a time the browser writes in its own zone, like every other time on the page."""
    conversation_id = escalated_conversation("+33611114503")
    with db.session_scope() as session:
        contact_id = session.scalars(select(Message.contact_id).where(Message.conversation_id == conversation_id)).one()
        campaign = create_campaign(session, create_template(session), name="Soldes")
        session.add(Message(contact_id=contact_id, direction="out", body="-20 %", status="delivered", lane="marketing",
                            author_type="campaign", campaign_id=campaign.id))  # fmt: skip
    page = _page(app_client, conversation_id)
    dated = r'Soldes: delivered, <time datetime="[0-9-]+T[0-9:.]+\+00:00" data-local-time>[0-9-]+ [0-9:]+ UTC<'
    assert re.search(dated, page)


def _badges(html: str) -> dict[int, tuple[str, str]]:
    """Each listed conversation's state badge: ``{conversation id: (raw state, words)}`` of a list page."""
    found = re.findall(r'data-conversation-link="(\d+)".*?<span class="badge state" data-state="(\w+)">([^<]*)</span>',
                       html, flags=re.S)
    return {int(cid): (state, words) for cid, state, words in found}


def test_states_read_in_an_agents_words_in_the_list_the_thread_the_search_and_the_contact(
        app_client: TestClient) -> None:
    me, secret = create_console_user("me@example.com", status="offline")
    colleague, _ = create_console_user("camille@example.com", status="offline")
    with db.session_scope() as session:
        user = session.get(User, colleague)
        assert user is not None
        user.name = "Camille"
        bot_id = create_conversation(session, "+33611114511", language="en").id
    queued = escalated_conversation("+33611114512")
    mine = escalated_conversation("+33611114513")
    theirs = escalated_conversation("+33611114514")
    closed = escalated_conversation("+33611114515")
    assign(mine, me)
    assign(theirs, colleague)
    with db.session_scope() as session:
        flows.close(session, conversation_id=closed, disposition="resolved", actor=SYSTEM)
    log_in(app_client, "me@example.com", secret)

    listed = _badges(app_client.get("/console/inbox?view=all", headers=HTML).text)
    assert listed[queued] == ("queued", "Waiting for an agent")
    assert listed[mine] == ("human", "With you")
    assert listed[theirs] == ("human", "With Camille")
    words = {m: app_client.get(f"/console/conversations/{m}", headers=HTML).text for m in (bot_id, mine, theirs)}
    for cid, expected in ((bot_id, "Bot answering"), (mine, "With you"), (theirs, "With Camille")):
        assert re.search(rf'id="conversation-state" data-state="\w+">{expected}</span>', words[cid]), cid
    assert ">bot</span>" not in words[bot_id] and ">human</span>" not in words[mine]

    found = _badges(app_client.get("/console/inbox/search", params={"q": "+33611114515"}, headers=HTML).text)
    assert found == {closed: ("closed", "Closed")}

    with db.session_scope() as session:
        contact_id = session.get(Conversation, theirs).contact_id  # type: ignore[union-attr]
    contact = app_client.get(f"/console/contacts/{contact_id}", headers={**HTML, **auth_headers("marketer")}).text
    assert '<span class="state" data-state="human">With Camille</span>' in contact


def test_a_customer_texting_again_after_a_close_has_the_earlier_conversation_linked(app_client: TestClient) -> None:
    """After a close the customer's next text starts a new conversation: it showed no trace of the one
    before (a replacement promised "within 48 h"), so the agent had to search for it by number."""
    first = escalated_conversation("+33612340001", "Ma commande est arrivée cassée", language="fr")
    with db.session_scope() as session:
        flows.close(session, conversation_id=first, disposition="resolved", actor=SYSTEM)
    second = escalated_conversation("+33612340001", "Toujours pas reçu le nouvel article", language="fr")
    assert second != first
    page = _page(app_client, second)
    earlier = page[page.index('<ul class="history" id="earlier">') :]
    earlier = earlier[: earlier.index("</ul>")]
    assert f'<a href="/console/conversations/{first}">Conversation #{first}</a>: Closed, last message' in earlier
    assert f"/console/conversations/{second}" not in earlier
    assert 'id="earlier"' not in _page(app_client, escalated_conversation("+33612340002"))  # a first conversation


def test_taking_a_colleagues_conversation_asks_first(app_client: TestClient) -> None:
    """"Assign to me" (or "a") took the conversation from the colleague answering it without a word."""
    conversation_id = escalated_conversation("+34612340009", "Hola, quiero hablar con una persona", language="es")
    waiting = _page(app_client, conversation_id)
    assert "hx-confirm" not in waiting[waiting.index('data-key="a"') : waiting.index("Assign to me")]
    camille, _ = create_console_user("camille@example.com")
    assign(conversation_id, camille)
    taken = _page(app_client, conversation_id)
    button = taken[taken.index('data-key="a"') : taken.index("Assign to me")]
    assert 'hx-confirm="camille has this conversation. Take it over?"' in button
