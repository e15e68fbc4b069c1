"""Inbound messages for agent tests: receiving texts, reading what was sent (fixture: conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from channels.base import InboundMessage, MediaItem
from conversations import flows
from conversations.models import Conversation, Message
from core import db

PHONE = "+33612345678"


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
