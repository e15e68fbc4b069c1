"""``process_inbound`` end to end: real database, real Redis, real pipeline over the demo FAQ."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from agent.runtime import get_runtime, profile_path, reset_runtime
from channels.base import InboundMessage, MediaItem
from contacts.models import Contact
from conversations import flows
from conversations.lock import ConversationBusy, conversation_lock
from conversations.models import Conversation, Message
from core import db
from core.settings import Settings
from handoff.models import Escalation
from tests.helpers import run_jobs
from workers.jobs.inbound import process_inbound

FAQ = Path(__file__).resolve().parents[2] / "examples" / "maison-lumiere" / "knowledge" / "faq.csv"
PHONE = "+33612345678"


@pytest.fixture
def agent(runtime: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The runtime's knowledge base holds the demo FAQ's shipping and payment entries (no intent
    model: retrieval decides)."""
    lines = FAQ.read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.endswith((",shipping", ",payment"))]
    subset = tmp_path / "faq.csv"
    subset.write_text("\n".join(kept) + "\n", encoding="utf-8")
    get_runtime(runtime).knowledge.ingest_path(subset, kb="default")
    yield runtime
    reset_runtime()


def receive(text: str, phone: str = PHONE, media: tuple[MediaItem, ...] = ()) -> int:
    inbound = InboundMessage(provider="simulator", provider_message_id=uuid.uuid4().hex, from_=phone,
                             to="+33700000001", text=text, received_at=datetime.now(UTC), media=media)
    with db.session_scope() as session:
        message = flows.persist_inbound(session, inbound=inbound, provider="simulator")
        assert message is not None
        return message.id


def outbound(conversation_id: int | None = None) -> list[Message]:
    with db.session_scope() as session:
        query = select(Message).where(Message.direction == "out").order_by(Message.id)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def inbound_message(message_id: int) -> Message:
    with db.session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        session.expunge(message)
        return message


def set_state(message_id: int, state: str) -> int:
    with db.session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        conversation.state = state
        return conversation.id


def test_a_question_gets_a_bot_reply_with_sources_once(agent: Settings) -> None:
    message_id = receive("what would the shipping cost me, please?")
    assert process_inbound(message_id) == "replied (offline)"
    [reply] = outbound()
    assert (reply.author_type, reply.status, reply.lane, reply.direction) == ("bot", "queued", "conversational", "out")
    assert "4.90 EUR" in reply.body
    assert reply.analysis["path"] == "offline" and reply.analysis["in_reply_to"] == message_id
    assert reply.analysis["sources"][0]["document_id"] == "faq.csv"
    analysed = inbound_message(message_id).analysis
    assert analysed["decision"]["action"] == "reply" and analysed["handled"] == "replied (offline)"
    assert analysed["language"]["code"] == "en" and analysed["decision"]["timings_ms"]["total"] > 0
    assert "cost me, please" not in json.dumps(analysed)  # the customer's words stay in the encrypted body
    # a repeated job does nothing
    assert process_inbound(message_id) == "skipped: already processed"
    assert len(outbound()) == 1
    with db.session_scope() as session:
        conversation = session.get(Conversation, reply.conversation_id)
        assert conversation is not None and conversation.language == "en"


def test_the_bot_is_silent_while_a_person_owns_the_conversation(agent: Settings) -> None:
    first = receive("How much does shipping cost?")
    for state in ("human", "queued"):
        set_state(first, state)
        message_id = receive("and do you ship to Belgium?")
        assert process_inbound(message_id).startswith("silent")
        analysed = inbound_message(message_id).analysis
        assert analysed["decision"]["action"] == "reply"  # what the bot would have said, for the agent
        assert analysed["handled"] == f"silent: the conversation is {state} for a person"
    assert outbound() == []


def test_stop_is_honoured_and_confirmed_once_even_when_a_person_owns_the_thread(agent: Settings) -> None:
    first = receive("hello")
    set_state(first, "human")
    stop = receive("STOP")
    assert process_inbound(stop) == "opted out and confirmed"
    [confirmation] = outbound()
    assert confirmation.lane == "transactional" and "START" in confirmation.body
    with db.session_scope() as session:
        contact = session.scalar(select(Contact))
        assert contact is not None and contact.opted_out
    assert process_inbound(receive("stop")).startswith("opted out (already opted out")
    assert len(outbound()) == 1
    assert process_inbound(receive("START")) == "opted in and confirmed"
    with db.session_scope() as session:
        contact = session.scalar(select(Contact))
        assert contact is not None and not contact.opted_out


def test_an_unanswerable_message_is_escalated_to_handoff(agent: Settings) -> None:
    message_id = receive("What is the capital of Mongolia?")
    assert process_inbound(message_id) == "escalated"
    with db.session_scope() as session:
        escalation = session.scalar(select(Escalation))
        assert escalation is not None and escalation.reason_code == "low_retrieval_score"
        conversation = session.get(Conversation, escalation.conversation_id)
        assert conversation is not None and conversation.state == "queued"
    assert [m.author_type for m in outbound()] == ["system"]  # handoff's notice with the wait time


def test_a_picture_without_text_goes_to_a_person_and_an_empty_text_is_ignored(agent: Settings) -> None:
    assert process_inbound(receive("  ")) == "silent"
    photo = receive("", media=(MediaItem(url="https://example.com/broken.jpg", content_type="image/jpeg"),))
    assert process_inbound(photo) == "escalated"
    assert inbound_message(photo).analysis["decision"]["reason_code"] == "media_only"


def test_after_hours_the_customer_gets_the_closed_reply_once(agent: Settings) -> None:
    path = profile_path(agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"brand": {"name": "Maison Lumière"}, "hours": {
        "timezone": "Europe/Paris", "weekly": {},
        "closed_reply": {"en": "We're closed; we'll answer from {opens}."}}}), encoding="utf-8")
    first = receive("What is the capital of Mongolia?")
    assert process_inbound(first) == "escalated (after hours, auto-reply sent)"
    [closed] = outbound()
    assert closed.body.startswith("We're closed") and closed.analysis["kind"] == "after_hours"
    set_state(first, "bot")  # handed back, still closed: no second auto-reply
    assert process_inbound(receive("And what about Peru?")) == "escalated (after hours)"
    assert len(outbound()) == 1


def test_the_conversation_lock_serialises_work(agent: Settings) -> None:
    message_id = receive("How much does shipping cost?")
    conversation_id = inbound_message(message_id).conversation_id
    assert conversation_id is not None
    done: list[str] = []
    with conversation_lock(conversation_id):
        with pytest.raises(ConversationBusy), conversation_lock(conversation_id, wait=0.1):
            pass
        worker = threading.Thread(target=lambda: done.append(process_inbound(message_id)))
        worker.start()
        time.sleep(0.5)
        assert done == [] and outbound() == []  # waiting for the lock
    worker.join(30)
    assert done == ["replied (offline)"]


def test_two_texts_a_second_apart_are_both_answered_in_turn(agent: Settings) -> None:
    ids = [receive("How much does shipping cost?"), receive("Do you sell gift cards?")]
    results: list[str] = []
    threads = [threading.Thread(target=lambda i=i: results.append(process_inbound(i))) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["replied (offline)", "replied (offline)"]
    bodies = sorted(m.body for m in outbound())
    assert "gift cards" in bodies[1] or "gift cards" in bodies[0]
    # whichever ran second saw the first in its history
    histories = [inbound_message(i).analysis for i in ids]
    assert all(h["decision"]["action"] == "reply" for h in histories)


def test_queued_by_persist_inbound_and_run_by_a_worker(agent: Settings) -> None:
    message_id = receive("Combien coûte la livraison ?")
    run_jobs()
    assert inbound_message(message_id).analysis["decision"]["action"] == "reply"
    [reply] = outbound()
    assert "4,90 EUR" in reply.body and reply.status != "queued"  # the send job took it


def test_an_unsure_natural_language_opt_out_asks_for_stop_and_changes_no_consent(agent: Settings) -> None:
    from agent.intent.builtin import ensure_builtin_model
    from agent.runtime import intent_store

    ensure_builtin_model(intent_store(agent), backend=agent.intent_backend)  # what `relais migrate` does
    asked = receive("tell me about me")  # issue 15: opted out at 0.58
    assert process_inbound(asked) == "asked to confirm the opt-out"
    [question] = outbound()
    assert question.lane == "transactional" and "Reply STOP" in question.body
    with db.session_scope() as session:
        contact = session.scalar(select(Contact))
        assert contact is not None and not contact.opted_out
    assert process_inbound(receive("please stop texting me")) == "opted out and confirmed"
    with db.session_scope() as session:
        contact = session.scalar(select(Contact))
        assert contact is not None and contact.opted_out
