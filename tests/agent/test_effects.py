"""``agent.effects.act`` on escalations outside business hours, and the live thread after a hand-back.

Real database, real Redis, real pipeline over the demo FAQ; a controlled clock (a Saturday evening
in Paris, the shop open on Mondays only).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import yaml

from agent.inbound import handle_inbound
from agent.runtime import profile_store
from conversations.models import Conversation, Message
from core import db
from core.audit import SYSTEM
from core.redis import get_redis
from core.settings import Settings
from handoff import events, flows
from handoff.models import AgentProfile
from tests.agent.inbound_helpers import inbound_message, outbound, receive
from tests.handoff.factories import create_agent

SATURDAY_EVENING = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)  # 20:00 in Paris: closed until Monday 9:00
UNANSWERABLE = "What is the capital of Mongolia?"


def closed_on_saturdays(settings: Settings) -> None:
    profile_store(settings).save(yaml.safe_dump({"brand": {"name": "Maison Lumière"}, "hours": {
        "timezone": "Europe/Paris", "weekly": {"mon": "09:00-18:00"},
        "closed_reply": {"en": "We're closed; we'll answer from {opens}."}}}), settings=settings)


def handle(message_id: int, now: datetime) -> str:
    with db.session_scope() as session:
        return handle_inbound(session, message_id, now=now)


def conversation_of(message_id: int) -> Conversation:
    with db.session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        found = session.get(Conversation, message.conversation_id)
        assert found is not None
        session.expunge(found)
        return found


def set_status(user_id: int, status: str) -> None:
    with db.session_scope() as session:
        profile = session.get(AgentProfile, user_id)
        assert profile is not None
        profile.status = status


def test_after_hours_an_online_agent_who_takes_it_means_no_closed_reply(agent: Settings) -> None:
    closed_on_saturdays(agent)
    with db.session_scope() as session:
        on_duty = create_agent(session, "weekend@example.com").id
    first = receive(UNANSWERABLE)
    assert handle(first, SATURDAY_EVENING) == "escalated (after hours, taken by an online agent)"
    conversation = conversation_of(first)
    assert (conversation.state, conversation.assigned_user_id) == ("human", on_duty)
    [notice] = outbound(conversation.id)
    assert notice.analysis["kind"] == "escalation_notice" and "A member of our team" in notice.body
    assert "closed" not in notice.body

    # the agent hands it back and goes offline: the next escalation finds nobody, so the closed reply
    with db.session_scope() as session:
        flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
    set_status(on_duty, "offline")
    later = SATURDAY_EVENING + timedelta(hours=1)
    assert handle(receive("And the capital of Peru?"), later) == "escalated (after hours, auto-reply sent)"
    closed = outbound(conversation.id)[-1]
    assert closed.analysis["kind"] == "after_hours" and "from Monday 9:00 AM" in closed.body
    # ... once per 12 hours in the conversation (agent.effects.AFTER_HOURS_REPEAT)
    with db.session_scope() as session:
        flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
    assert handle(receive("And of Chile?"), later + timedelta(hours=1)) == "escalated (after hours)"
    assert len(outbound(conversation.id)) == 2
    assert [m.analysis["kind"] for m in outbound(conversation.id)] == ["escalation_notice", "after_hours"]
    # ... and again once 12 hours have passed on the same clock (Sunday morning, still closed): the rule
    # compared the reply's stored created_at (the real time) with the passed clock
    with db.session_scope() as session:
        flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
    sunday = later + timedelta(hours=12, minutes=1)
    assert handle(receive("And of Bolivia?"), sunday) == "escalated (after hours, auto-reply sent)"
    assert [m.analysis["kind"] for m in outbound(conversation.id)] == ["escalation_notice", "after_hours",
                                                                       "after_hours"]
    assert outbound(conversation.id)[-1].analysis["at"] == sunday.isoformat()


def test_a_handed_back_thread_is_told_of_the_customers_text_and_the_bots_answer(agent: Settings) -> None:
    with db.session_scope() as session:
        create_agent(session, "day@example.com")
    first = receive(UNANSWERABLE)
    assert handle(first, SATURDAY_EVENING) == "escalated"  # no hours: always open
    conversation = conversation_of(first)
    pubsub = get_redis(agent).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(events.channel(get_redis(agent)))
    try:
        with db.session_scope() as session:
            flows.handback(session, conversation_id=conversation.id, actor=SYSTEM)
        question = receive("what would the shipping cost me, please?")
        assert handle(question, SATURDAY_EVENING) == "replied (offline)"
        published = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # the subscription's confirmation reads as None: keep reading
            if (message := pubsub.get_message(timeout=0.2)) is not None:
                published.append(json.loads(message["data"]))
    finally:
        pubsub.close()
    assert {"kind": "message.received", "conversation_id": conversation.id, "message_id": question} in published
    assert outbound(conversation.id)[-1].author_type == "bot"


def test_the_bots_reply_is_stored_only_in_its_encrypted_body(agent: Settings) -> None:
    """``messages.analysis`` is plain JSON (reports group by its keys in SQL): the reply's text, which may repeat
    what the customer wrote (an LLM's), lives in the reply's encrypted body only; the analysis keeps that there was
    one (its passages are the knowledge base's own text, which an offline reply quotes)."""
    question = receive("what would the shipping cost me, please?")
    assert handle(question, SATURDAY_EVENING) == "replied (offline)"
    reply = outbound()[-1]
    assert reply.author_type == "bot" and "EUR" in reply.body
    for stored in (reply.analysis, inbound_message(question).analysis):
        assert stored["decision"]["reply"] is None and stored["decision"]["replied"] is True
