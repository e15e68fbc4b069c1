"""A conversation message's status changes reach open consoles live (``message.status`` on the console channel);
a campaign's sends and reports publish nothing, on SQLite and PostgreSQL, with the real Redis.

An agent's reply showed "queued" until the thread's 20 s poll: nothing announced its send, its delivery or its
failure. The campaign send path is benchmarked, so its messages must cost no statement and no Redis command more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.client import PubSub
from sqlalchemy import select

from channels.base import DeliveryReport
from contacts.models import Contact
from conversations import flows
from conversations.models import Message
from core import db
from core.live import channel
from core.redis import get_redis
from core.settings import Settings
from delivery import states
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine
from tests.delivery.test_batch_cost import _campaign_messages
from tests.handoff.factories import create_conversation


@pytest.fixture
def heard(runtime_any_db: Settings) -> Iterator[PubSub]:
    client = get_redis(runtime_any_db)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel(client))
    yield pubsub
    pubsub.close()


def _statuses(pubsub: PubSub, *, wait: float) -> list[dict[str, Any]]:
    """The ``message.status`` events published within ``wait`` seconds (publishing is after commit, in process:
    what is not there by then was never sent)."""
    found = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is not None:
            event = json.loads(message["data"])
            if event["kind"] == "message.status":
                found.append(event)
    return found


def _reply(conversation_phone: str, text: str) -> tuple[int, int]:
    """An agent's reply queued in a new conversation: (message id, conversation id)."""
    with db.session_scope() as session:
        conversation = create_conversation(session, conversation_phone)
        contact = session.get_one(Contact, conversation.contact_id)
        contact.country = "FR"
        message = flows.queue_outbound(session, contact=contact, body=text, lane="conversational",
                                       author_type="agent", author_id="1", conversation=conversation)  # fmt: skip
        return message.id, conversation.id


def _report(message_id: int, status: str) -> DeliveryReport:
    with db.session_scope() as session:
        message = session.get_one(Message, message_id)
        provider, provider_id = message.provider, message.provider_message_id
    assert provider_id
    return DeliveryReport(provider=provider, provider_message_id=provider_id, status=status,  # type: ignore[arg-type]
                          provider_status=status, occurred_at=datetime.now(UTC))  # fmt: skip


def test_a_replys_send_delivery_and_failure_are_announced_and_a_campaigns_are_not(
    fake: FakeVonage, runtime_any_db: Settings, heard: PubSub
) -> None:
    campaign = _campaign_messages(20)  # its senders serve the replies too (FR short codes)
    reply, conversation = _reply("+33612345001", "Sorry! A new lamp leaves today.")
    other, other_conversation = _reply("+33612345002", "We are on it.")
    engine = make_engine(fake, runtime_any_db)
    try:
        assert engine.send_batch(campaign).sent == 20
        assert _statuses(heard, wait=0.5) == []  # a campaign's batch: no event, no PUBLISH
        assert engine.send_batch([reply, other]).sent == 2
    finally:
        engine.close()
    [sent] = _statuses(heard, wait=2)  # one event for the batch
    assert sent["conversation_ids"] == sorted([conversation, other_conversation])
    assert sent["messages"] == [
        {"id": reply, "conversation_id": conversation, "status": "sent"},
        {"id": other, "conversation_id": other_conversation, "status": "sent"},
    ]

    with db.session_scope() as session:  # campaign reports and the replies' in one batch, as the report job has them
        reports = [_report(i, "delivered") for i in campaign] + [_report(reply, "delivered"), _report(other, "failed")]
        states.apply_delivery_reports(session, reports)
    [delivered] = _statuses(heard, wait=2)
    assert delivered["messages"] == [
        {"id": reply, "conversation_id": conversation, "status": "delivered"},
        {"id": other, "conversation_id": other_conversation, "status": "failed"},
    ]
    with db.session_scope() as session:
        states.apply_delivery_reports(session, [_report(i, "delivered") for i in campaign])  # replayed: no change
        states.apply_delivery_reports(session, [_report(reply, "delivered")])
    assert _statuses(heard, wait=0.5) == []  # nothing moved, nothing told


def test_a_reply_refused_at_send_time_is_announced(fake: FakeVonage, runtime_any_db: Settings, heard: PubSub) -> None:
    """The customer texted STOP between the reply and its send: the authority closes it ``rejected``."""
    _campaign_messages(1)
    reply, conversation = _reply("+33612345003", "Here is your tracking number.")
    with db.session_scope() as session:
        contact_id = session.scalar(select(Message.contact_id).where(Message.id == reply))
        session.get_one(Contact, contact_id).opted_out = True
    engine = make_engine(fake, runtime_any_db)
    try:
        assert engine.send_batch([reply]).rejected == 1
    finally:
        engine.close()
    [rejected] = _statuses(heard, wait=2)
    assert rejected["messages"] == [{"id": reply, "conversation_id": conversation, "status": "rejected"}]
