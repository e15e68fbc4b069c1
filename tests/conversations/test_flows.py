"""Inbound storage and sender choice, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from channels.base import ConcatInfo, InboundMessage
from channels.senders import SenderChoice, SenderPicker, create_sender
from conversations import flows
from conversations.models import Conversation, InboundEvent
from core import db
from core.errors import ValidationFailed
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def inbound(message_id: str, text: str = "hello", concat: ConcatInfo | None = None) -> InboundMessage:
    return InboundMessage(
        provider="vonage-sms",
        provider_message_id=message_id,
        from_="+33612345678",
        to="+33612000000",
        text=text,
        received_at=NOW,
        concat=concat,
    )


def test_staging_is_deduplicated_by_provider_id(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        first = flows.stage_inbound(session, inbound=inbound("A1"), channel="vonage")
        again = flows.stage_inbound(session, inbound=inbound("A1", "replayed"), channel="vonage")
    assert first is not None and again is None
    with db.session_scope() as session:
        assert session.scalar(select(func.count(InboundEvent.id))) == 1
    # announced once, and one drain job scheduled for the burst
    assert get_redis(runtime_any_db).lrange(flows.PENDING_INBOUND_KEY, 0, -1) == [str(first).encode()]
    assert [j.func_name for j in get_queue("inbound").get_jobs()] == ["workers.delivery.ingest.drain_inbound"]


def test_persist_creates_thread_once_and_queues_the_pipeline(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message = flows.persist_inbound(session, inbound=inbound("B1"), provider="vonage")
        assert message is not None
        message_id = message.id
        assert flows.persist_inbound(session, inbound=inbound("B1"), provider="vonage") is None
        second = flows.persist_inbound(session, inbound=inbound("B2", "again"), provider="vonage")
        assert second is not None and second.conversation_id == message.conversation_id
    with db.session_scope() as session:
        assert session.scalar(select(func.count(Conversation.id))) == 1
    jobs = {j.id: j for j in get_queue("inbound").get_jobs()}
    # the job knows the conversation, so it takes the conversation's lock without a query first
    assert jobs[f"inbound-{message_id}"].args == [message_id, message.conversation_id]


def test_a_new_thread_is_written_by_its_insert_alone(runtime_any_db: Settings) -> None:
    statements: list[str] = []

    def on_statement(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine(), "before_cursor_execute", on_statement)
    try:
        with db.session_scope() as session:
            message = flows.persist_inbound(session, inbound=inbound("C1"), provider="vonage")
            assert message is not None
            conversation = session.get(Conversation, message.conversation_id)
            assert conversation is not None and conversation.last_message_at == message.created_at
    finally:
        event.remove(db.engine(), "before_cursor_execute", on_statement)
    assert any(s.startswith("INSERT INTO conversations") for s in statements)
    assert not any(s.startswith("UPDATE conversations") for s in statements)
    with db.session_scope() as session:
        later = flows.persist_inbound(session, inbound=inbound("C2", "and another"), provider="vonage")
        assert later is not None
        conversation = session.get(Conversation, later.conversation_id)
        assert conversation is not None and conversation.last_message_at == later.created_at


def test_parts_join_in_order_whatever_the_arrival(runtime_any_db: Settings) -> None:
    parts = [(2, "world"), (1, "hello ")]
    with db.session_scope() as session:
        results = [
            flows.persist_inbound(
                session, inbound=inbound(f"C{n}", text, ConcatInfo(ref="9", part=n, total=2)), provider="vonage"
            )
            for n, text in parts
        ]
        assert results[0] is None and results[1] is not None
        assert results[1].body == "hello world"


def addr(choice: SenderChoice | None) -> str:
    assert choice is not None
    return choice.address


def test_sender_choice_country_capability_sticky_and_spread(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        create_sender(session, kind="short_code", address="12345", country="FR", throughput=30)
        create_sender(session, kind="short_code", address="123456", country="FR", throughput=30)
        create_sender(session, kind="long_code", address="+15005550006", country="", capabilities=["sms", "mms"])
        create_sender(session, kind="alphanumeric", address="Relais", country="GB")
        with pytest.raises(ValidationFailed):
            create_sender(session, kind="short_code", address="1234")
        picker = SenderPicker(session)
        spread = {addr(picker.pick(country="FR", contact_id=n)) for n in range(4)}
        assert spread == {"12345", "123456"}
        assert addr(picker.pick(country="FR", contact_id=7)) == addr(picker.pick(country="FR", contact_id=7))
        assert addr(picker.pick(country="FR", mms=True)) == "+15005550006"
        assert addr(picker.pick(country="GB")) == "Relais"
        assert addr(picker.pick(country="FR", contact_id=0, sticky="123456")) == "123456"
        assert addr(picker.pick(country="DE")) == "+15005550006"
