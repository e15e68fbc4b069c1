"""The indexes of ``messages`` that a message's status changes write to, and the lookups they must still serve.

Each status change of an outbound message is a new row version (status is indexed: no HOT update) with an
entry in every index whose condition it meets. On PostgreSQL the status, conversation and provider-id indexes
leave out the rows they never need to find (migration 0016); every lookup through them must still find its
index, or a sweep that ran in milliseconds would scan the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from channels.base import DeliveryReport
from contacts.service import get_or_create_by_phone
from conversations import flows, service
from conversations.models import Message
from core import db
from core.settings import Settings
from delivery import states, store

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _message(session: Session, *, status: str, provider_id: str | None = None) -> int:
    contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
    message = flows.queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="campaign")
    message.status, message.provider, message.provider_message_id = status, "vonage", provider_id
    session.flush()
    return message.id


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on ``messages`` run while the block runs, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM messages" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine(), "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(db.engine(), "before_cursor_execute", keep)


def _plan(statement: str, parameters: Any) -> str:
    with db.engine().connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a small table is scanned whatever the indexes
            return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
        return "\n".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))


def _lookups(session: Session) -> dict[str, Callable[[], object]]:
    report = DeliveryReport(provider="vonage", provider_message_id="p-1", status="delivered", occurred_at=NOW)
    return {
        "ix_messages_status_not_before stuck": lambda: store.stuck(session, now=NOW, older_than=timedelta(seconds=1)),
        "ix_messages_status_not_before orphaned": lambda: store.orphaned(
            session, now=NOW + timedelta(hours=1), older_than=timedelta(seconds=1)
        ),
        "ix_messages_status_not_before failed": lambda: service.list_messages(session, status="failed"),
        "uq_messages_provider_id report": lambda: states.apply_delivery_reports(session, [report]),
        "ix_messages_conversation_created thread": lambda: session.scalars(
            select(Message).where(Message.conversation_id == 1).order_by(Message.created_at)
        ).all(),
    }


def test_status_provider_and_conversation_lookups_use_their_indexes(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        _message(session, status="sending")
        _message(session, status="sent", provider_id="p-1")
        for name, lookup in _lookups(session).items():
            with _statements() as seen:
                lookup()
            index = name.split()[0]
            assert seen, name
            statement, parameters = seen[0]
            assert index in _plan(statement, parameters), (name, _plan(statement, parameters))


def test_settled_messages_leave_the_status_conversation_and_provider_indexes_alone(runtime_any_db: Settings) -> None:
    """On PostgreSQL the three indexes hold only the rows their lookups may find; SQLite keeps whole indexes (its
    planner does not prove that ``status = 'queued'`` meets ``status NOT IN (…)``)."""
    with db.engine().connect() as conn:
        if conn.dialect.name == "postgresql":
            found = {
                name: sql
                for name, sql in conn.exec_driver_sql(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages'"
                )
            }
        else:
            found = {
                name: sql or ""
                for name, sql in conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
                )
            }
    if db.engine().dialect.name != "postgresql":
        assert all(" WHERE " not in sql.upper() for sql in found.values()), found
        return
    assert found["ix_messages_conversation_created"].endswith("WHERE (conversation_id IS NOT NULL)")
    assert found["uq_messages_provider_id"].startswith("CREATE UNIQUE INDEX")
    assert found["uq_messages_provider_id"].endswith("WHERE (provider_message_id IS NOT NULL)")
    status = found["ix_messages_status_not_before"]
    assert "<> ALL" in status and all(f"'{s}'" in status for s in ("sent", "delivered", "received")), status
