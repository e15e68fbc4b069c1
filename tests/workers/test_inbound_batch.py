"""The ingest job answers a batch of stored texts itself (``agent.intake``): one pipeline call per
round, replies sent in the same job, and every promise of the one-job-per-text path kept.

Real database (SQLite and PostgreSQL), real Redis, real pipeline over the demo FAQ.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

import agent.inbound
from channels.base import InboundMessage
from contacts.models import Contact
from conversations import flows
from conversations.lock import conversation_lock
from conversations.models import InboundEvent, Message
from conversations.service import threads_created
from core import db
from core.queue import get_queue
from core.settings import Settings
from knowledge.embeddings import get_embedder
from tests.agent.inbound_helpers import receive
from tests.helpers import run_jobs
from workers.delivery import ingest
from workers.delivery.ingest import answer_events, drain_inbound
from workers.jobs.inbound import process_inbound


def stage(text: str, phone: str) -> int:
    """A text stored as the webhook stores it (announced to the drain after the commit)."""
    inbound = InboundMessage(provider="simulator", provider_message_id=uuid.uuid4().hex, from_=phone,
                             to="+33700000001", text=text, received_at=datetime.now(UTC))
    with db.session_scope() as session:
        event_id = flows.stage_inbound(session, inbound=inbound, channel="simulator")
        assert event_id is not None
        return event_id


def messages(phone: str | None = None, direction: str = "in") -> list[Message]:
    with db.session_scope() as session:
        query = select(Message).join(Contact, Contact.id == Message.contact_id).where(
            Message.direction == direction).order_by(Message.id)
        rows = [m for m in session.scalars(query) if phone is None or _phone(session, m) == phone]
        session.expunge_all()
        return rows


def _phone(session: Any, message: Message) -> str:
    contact = session.get(Contact, message.contact_id)
    return contact.phone if contact is not None else ""


def queued_jobs() -> list[str]:
    """Jobs waiting, but the drain jobs the staged texts announced (the tests run the drain)."""
    return [str(job.func_name) for name in ("inbound", "conversational", "transactional")
            for job in get_queue(name).get_jobs() if job.func_name != flows.INGEST_JOB]


@pytest.fixture
def encoded(agent_any_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The texts of every encoder call once the pipeline is warm."""
    process_inbound(receive("How much does shipping cost?", phone="+33612349999"))  # builds and warms the pipeline
    run_jobs()  # its (now empty) analysis job and its reply's send job
    model = get_embedder(agent_any_db.embedding_backend)._model  # type: ignore[attr-defined]
    encode = model.encode
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> Any:
        calls.append(list(texts))
        return encode(texts)

    monkeypatch.setattr(model, "encode", counting)
    yield calls


def test_a_batch_of_several_conversations_is_answered_in_one_encoder_call_and_sent_in_the_job(
        encoded: list[list[str]]) -> None:
    phones = ["+33612340001", "+33612340002", "+33612340003"]
    for phone, text in zip(phones, ["How much does shipping cost?", "Do you ship abroad?",
                                    "Quels moyens de paiement acceptez-vous ?"], strict=True):
        stage(text, phone)
    assert drain_inbound() == 3
    assert len(encoded) == 1 and len(encoded[0]) == 3, "one encoder call for the batch"
    received = messages()[-3:]
    assert [m.analysis["handled"] for m in received] == ["replied (offline)"] * 3
    replies = messages(direction="out")[-3:]
    assert [r.analysis["in_reply_to"] for r in replies] == [m.id for m in received]
    assert all(r.status == "sent" for r in replies), "sent by the drain job itself"
    assert queued_jobs() == [], "no job per text: neither an analysis nor a send job"


def test_two_texts_of_one_conversation_in_a_batch_are_answered_in_turn(encoded: list[list[str]]) -> None:
    phone = "+33612340011"
    stage("How much does shipping cost?", phone)
    stage("and for express?", phone)
    stage("Do you ship abroad?", "+33612340012")
    assert drain_inbound() == 3
    first, second = messages(phone)
    [first_reply, second_reply] = messages(phone, "out")
    assert first_reply.analysis["in_reply_to"] == first.id and second_reply.analysis["in_reply_to"] == second.id
    assert first_reply.id < second_reply.id
    # the follow-up was read with the first text in its history: it asks about express shipping
    assert "9,90" in second_reply.body or "9.90" in second_reply.body
    # two rounds: one text of each contact, then the follow-up (with the earlier text, for repeats)
    assert len(encoded) == 2 and len(encoded[0]) == 2


def test_stop_in_a_batch_is_honoured_without_a_model_and_the_others_answered(encoded: list[list[str]]) -> None:
    stage("STOP", "+33612340021")
    stage("How much does shipping cost?", "+33612340022")
    assert drain_inbound() == 2
    stop, question = messages()[-2:]
    assert stop.analysis["handled"] == "opted out and confirmed"
    assert question.analysis["handled"] == "replied (offline)"
    assert encoded == [[encoded[0][0]]] and "STOP" not in encoded[0], "the STOP is not embedded"
    with db.session_scope() as session:
        contact = session.scalar(select(Contact).where(Contact.id == stop.contact_id))
        assert contact is not None and contact.opted_out
    [confirmation] = messages("+33612340021", "out")
    assert confirmation.lane == "transactional" and confirmation.status == "sent"


def test_a_failing_text_does_not_lose_the_others_of_its_batch(encoded: list[list[str]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    act = agent.inbound.act

    def failing(session: Any, *, message: Message, **kwargs: Any) -> str:
        if message.body == "boom, how much does shipping cost?":
            raise RuntimeError("an effect failed")
        return act(session, message=message, **kwargs)

    monkeypatch.setattr(agent.inbound, "act", failing)
    events = [stage("Do you ship abroad?", "+33612340031"), stage("boom, how much does shipping cost?", "+33612340032"),
              stage("How much does shipping cost?", "+33612340033")]
    assert answer_events(events) == 0  # the batch rolled back: each text then went its own way
    with db.session_scope() as session:
        assert all(e.processed_at is not None for e in session.scalars(select(InboundEvent)
                                                                        .where(InboundEvent.id.in_(events))))
    assert queued_jobs().count("workers.jobs.inbound.process_inbound") == 3
    run_jobs()
    handled = {m.body: m.analysis.get("handled") for m in messages()}
    assert handled["Do you ship abroad?"] == "replied (offline)"
    assert handled["How much does shipping cost?"] == "replied (offline)"
    assert handled["boom, how much does shipping cost?"] is None  # its job failed and will be retried
    assert len(messages(direction="out")) == 1 + 2  # the warm-up's reply and the two others


def test_a_rerun_changes_nothing(encoded: list[list[str]]) -> None:
    events = [stage("How much does shipping cost?", "+33612340041"), stage("Do you ship abroad?", "+33612340042")]
    assert answer_events(events) == 2
    replies = len(messages(direction="out"))
    assert answer_events(events) == 0  # the events are processed: no message, nothing analysed
    for message in messages()[-2:]:
        assert process_inbound(message.id) == "skipped: already processed"
    assert len(messages(direction="out")) == replies


def test_a_busy_conversation_gets_its_own_job_and_the_others_are_answered(encoded: list[list[str]]) -> None:
    first = receive("How much does shipping cost?", phone="+33612340051")
    process_inbound(first)
    run_jobs()
    [earlier] = messages("+33612340051")
    assert earlier.conversation_id is not None
    with conversation_lock(earlier.conversation_id):  # an agent is acting on that thread
        events = [stage("and for express?", "+33612340051"), stage("Do you ship abroad?", "+33612340052")]
        assert answer_events(events) == 1
        assert queued_jobs() == ["workers.jobs.inbound.process_inbound"]
    run_jobs()
    follow_up = messages("+33612340051")[-1]
    assert follow_up.analysis["handled"] == "replied (offline)"
    assert messages("+33612340052")[0].analysis["handled"] == "replied (offline)"


def batch_statements(texts: int, first: int) -> list[str]:
    """The statements answering a batch of ``texts`` first texts from new numbers (flattened)."""
    events = [stage("How much does shipping cost?", f"+33612{first + n:06d}") for n in range(texts)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine(), "before_cursor_execute", count)
    try:
        assert answer_events(events) == texts
    finally:
        event.remove(db.engine(), "before_cursor_execute", count)
    return statements


def test_a_batch_costs_the_database_the_same_statements_whatever_its_size(encoded: list[list[str]]) -> None:
    """Contacts, threads, messages, the webhook subscriptions, the histories, the replies and the
    updates after the analysis: one statement per kind for the batch, not per text (the first take-in
    cost 16 per text; the reply's insert, its thread's update and the analysis one each). SQLite
    inserts rows one at a time (SQLAlchemy cannot match RETURNING's rows to them otherwise)."""
    few, many = batch_statements(3, 100), batch_statements(12, 200)
    inserts = ("INSERT INTO contacts", "INSERT INTO conversations", "INSERT INTO messages")
    if db.engine().dialect.name == "postgresql":
        assert len(many) == len(few) <= 40, "\n".join(many)
        assert [sum(s.startswith(i) for s in many) for i in inserts] == [1, 1, 2], "texts, then replies"
    else:
        assert sum(not s.startswith(inserts) for s in many) == sum(not s.startswith(inserts) for s in few)
    for read in ("SELECT inbound_events.", "SELECT webhook_subscriptions.", "SELECT contacts.id, contacts.phone, "
                 "contacts.phone_index", "SELECT conversations."):
        assert sum(s.startswith(read) for s in many) == 1, read


def test_a_batch_of_new_and_known_numbers_is_answered_once_each(encoded: list[list[str]]) -> None:
    known = "+33612349999"  # texted in the warm-up: its contact and thread exist
    phones = [f"+336123403{n:02d}" for n in range(8)]
    texts = [("How much does shipping cost?", phone) for phone in phones]
    texts += [("and for express?", phones[3]), ("Do you ship abroad?", known)]
    events = [stage(text, phone) for text, phone in texts]
    assert answer_events(events) == len(texts)
    with db.session_scope() as session:
        received = session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        replies = session.scalars(select(Message).where(Message.direction == "out")).all()
        contacts = {c.phone: c for c in session.scalars(select(Contact))}
        in_reply_to = sorted(r.analysis["in_reply_to"] for r in replies)
        assert in_reply_to == sorted(m.id for m in received), "every text answered once"
        assert all(m.analysis["handled"] == "replied (offline)" for m in received)
        assert sorted(contacts) == sorted([*phones, known]), "one contact per number"
        stored = session.scalars(select(InboundEvent).where(InboundEvent.id.in_(events)))
        by_event = {e.id: e.message_id for e in stored}
        mine = [m for m in received if m.id in by_event.values()]
        assert [m.id for m in mine] == [by_event[e] for e in events], "messages in the order of their events"
        assert [(contacts[p].id, m.body) for (m, (_, p)) in zip(mine, texts, strict=True)] == [
            (m.contact_id, m.body) for m in mine]
        threads = {m.contact_id: set() for m in received}
        for m in received:
            threads[m.contact_id].add(m.conversation_id)
        assert all(len(ids) == 1 for ids in threads.values()), "one thread per number: the known one kept"
    follow_up = messages(phones[3])[-1]
    assert follow_up.body == "and for express?"
    [answer] = [r for r in messages(phones[3], "out") if r.analysis["in_reply_to"] == follow_up.id]
    assert "9,90" in answer.body or "9.90" in answer.body, "the follow-up read after the first text"


def test_a_batch_is_answered_while_the_previous_batch_s_replies_are_sent(
        encoded: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the drain answers the next batch while the previous one's replies go to the
    provider (one send at a time, in batch order, every reply sent before the job ends); on SQLite,
    one writer, each send is waited for before the next batch."""
    monkeypatch.setattr(ingest, "BATCH", 1)
    take_in, engine = ingest.take_in, ingest.get_engine()
    second_taken = threading.Event()
    steps: list[str] = []

    def taking(session: Any, event_ids: Any, **kwargs: Any) -> Any:
        steps.append(f"take {len(steps)}")
        if any(step.startswith("send") for step in steps):
            second_taken.set()
        return take_in(session, event_ids, **kwargs)

    class Engine:
        def send_batch(self, ids: list[int], *, owner: str) -> Any:
            steps.append("send")
            if len([s for s in steps if s == "send"]) == 1:
                second_taken.wait(5)  # the first batch's send: does the second batch go meanwhile?
            report = engine.send_batch(ids, owner=owner)
            steps.append("sent")
            return report

    monkeypatch.setattr(ingest, "take_in", taking)
    monkeypatch.setattr(ingest, "get_engine", Engine)
    stage("How much does shipping cost?", "+33612340061")
    stage("Do you ship abroad?", "+33612340062")
    assert drain_inbound() == 2
    if db.engine().dialect.name == "postgresql":
        assert steps[:3] == ["take 0", "send", "take 2"] and steps[3:] == ["sent", "send", "sent"], steps
    else:
        assert steps == ["take 0", "send", "sent", "take 3", "send", "sent"], steps
    replies = messages(direction="out")[-2:]
    assert all(r.status == "sent" for r in replies), "every reply sent before the job ended"
    assert queued_jobs() == []


def test_first_texts_read_no_history_and_no_escalation(encoded: list[list[str]]) -> None:
    """Threads the batch creates have no earlier turn (in its first round) and no escalation an agent
    handed back: neither is read for them. A known number's text still reads both."""
    history, escalations = "SELECT anon_1.conversation_id, anon_1.author_type", "SELECT escalations."
    first = batch_statements(3, 300)
    assert not [s for s in first if s.startswith((history, escalations))], "\n".join(first)
    known = batch_statements(1, 300)  # the same number again: its thread exists
    assert sum(s.startswith(history) for s in known) == 1 and sum(s.startswith(escalations) for s in known) == 1
    with db.session_scope() as session:
        assert threads_created(session) == set(), "none created in this transaction"


def test_each_pop_of_the_drain_is_one_redis_round_trip(encoded: list[list[str]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Clearing the "drain scheduled" flag and popping the next ids go in one round trip, in that order."""
    real = ingest.get_redis
    trips: list[str] = []

    class Counting:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            attribute = getattr(self._client, name)
            if name == "pipeline":
                def pipeline(**kwargs: Any) -> Any:
                    pipe = attribute(**kwargs)
                    execute = pipe.execute

                    def counted() -> Any:
                        trips.append("pipeline: " + ", ".join(str(c[0][0]) for c in pipe.command_stack))
                        return execute()
                    pipe.execute = counted
                    return pipe
                return pipeline
            if callable(attribute):
                def call(*args: Any, **kwargs: Any) -> Any:
                    trips.append(name.upper())
                    return attribute(*args, **kwargs)
                return call
            return attribute

    monkeypatch.setattr(ingest, "get_redis", lambda settings: Counting(real(settings)))
    monkeypatch.setattr(ingest, "GATHER_SECONDS", 0.01)
    stage("How much does shipping cost?", "+33612340071")
    assert drain_inbound() == 1
    # one text found: the flag raised while waiting for more, then the top-up pop; on PostgreSQL an empty
    # pop while the replies were being sent looks once more when they are
    pops = 3 if db.engine().dialect.name == "postgresql" else 2
    assert trips == ["DELETE", "pipeline: DEL, LPOP", "SET"] + ["pipeline: DEL, LPOP"] * pops, trips


def test_a_short_pop_waits_for_more_texts_which_join_its_batch_and_start_no_other_drain(
        encoded: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A pop finding fewer than BATCH texts waits GATHER_SECONDS for more: a text arriving meanwhile is
    answered in the same batch (one encoder call, one transaction) and its announcement queues no second
    drain job, which would have answered it in a batch of its own."""
    waits: list[float] = []
    drainer, real_sleep = threading.current_thread(), time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread() is not drainer:  # a sending lane waiting for its slot
            real_sleep(seconds)
            return
        waits.append(seconds)
        if len(waits) == 1:
            stage("Do you ship abroad?", "+33612340082")  # a webhook during the wait

    monkeypatch.setattr(ingest.time, "sleep", sleep)
    stage("How much does shipping cost?", "+33612340081")
    drains_before = [j.id for j in get_queue("inbound").get_jobs() if j.func_name == flows.INGEST_JOB]
    assert drain_inbound() == 2
    assert waits == [ingest.GATHER_SECONDS], "one wait: the top-up found the second text"
    assert len(encoded) == 1 and len(encoded[0]) == 2, "both texts in one batch"
    drains = [j.id for j in get_queue("inbound").get_jobs() if j.func_name == flows.INGEST_JOB]
    assert drains == drains_before, "the text that came during the wait queued no other drain"
    assert [m.analysis["handled"] for m in messages()[-2:]] == ["replied (offline)"] * 2
    assert all(r.status == "sent" for r in messages(direction="out")[-2:])
