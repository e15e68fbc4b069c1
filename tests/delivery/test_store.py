"""The engine's concurrency paths on SQLite and PostgreSQL: claim, due and orphan queries, conditional updates."""

from __future__ import annotations

from sqlalchemy.orm import Session

from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message
from core import db
from core.settings import Settings
from delivery import store


def _queued(session: Session) -> Message:
    contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
    return flows.queue_outbound(session, contact=contact, body="hi", lane="transactional", author_type="api")


def test_a_message_is_claimed_by_one_worker_only(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message_id = _queued(session).id
    with db.session_scope() as session:
        _, first = store.claim(session, [message_id])
    with db.session_scope() as session:
        _, second = store.claim(session, [message_id])
    assert [m.id for m in first] == [message_id] and second == []
