"""Delivery reports kept by the webhook and applied in batches by a job, on SQLite and PostgreSQL:
one job scheduled for a burst, every report applied in order (never backwards), by provider id, part
id or client-ref, unknown ones ignored, replays harmless."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from channels.base import DeliveryReport, DeliveryStatus
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message, MessageProviderId
from core import db
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from delivery import reports

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _sent(session: Session, phone: str, provider_id: str | None, *, status: str = "sent") -> int:
    contact, _ = get_or_create_by_phone(session, phone_e164=phone)
    message = flows.queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="api")
    message.status, message.provider, message.provider_message_id = status, "vonage-sms", provider_id
    session.flush()
    return message.id


def _report(status: DeliveryStatus, provider_id: str, *, ref: str | None = None, code: str | None = None,
            price: int | None = None) -> DeliveryReport:
    return DeliveryReport(provider="vonage-sms", provider_message_id=provider_id, status=status, occurred_at=NOW,
                          provider_status=status, provider_code=code, client_ref=ref, price_micros=price)


def test_a_burst_schedules_one_job_and_each_report_is_applied_in_order(runtime_any_db: Settings) -> None:
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        first = _sent(session, "+33612345601", "P1")
        second = _sent(session, "+33612345602", "P2")
        split = _sent(session, "+33612345603", "P3")
        session.add(MessageProviderId(message_id=split, provider="vonage-sms", provider_message_id="P3-b"))
        adopted = _sent(session, "+33612345604", None, status="sending")
    burst = [
        _report("delivered", "P1", price=33300),
        _report("sent", "P1"),  # late: never moves it back
        _report("failed", "P2", code="6"),
        _report("delivered", "P3-b"),  # a part of a long text
        _report("sent", "P4", ref=f"relais-{adopted}"),  # a send whose outcome was unknown: adopted
        _report("delivered", "P-unknown"),
    ]
    assert reports.stage(client, burst[:3]) == 3
    assert reports.stage(client, burst[3:]) == 3
    assert get_queue("inbound").count == 1  # one apply job for the burst
    assert reports.apply_pending(client, batch=4) == 6  # two transactions
    assert reports.apply_pending(client) == 0
    with db.session_scope() as session:
        rows = {m.id: m for m in session.scalars(select(Message))}
        assert (rows[first].status, rows[first].price_micros) == ("delivered", 33300)
        assert rows[first].delivered_at is not None
        assert (rows[second].status, rows[second].error_code) == ("failed", "6")
        assert rows[split].status == "delivered"
        assert (rows[adopted].status, rows[adopted].provider_message_id) == ("sent", "P4")
    reports.stage(client, burst)  # the provider's retries of the same reports change nothing
    reports.apply_pending(client)
    with db.session_scope() as session:
        assert session.get(Message, first).status == "delivered"  # type: ignore[union-attr]
        assert session.get(Message, adopted).status == "sent"  # type: ignore[union-attr]


def test_a_report_survives_its_round_trip_through_redis() -> None:
    original = _report("failed", "P7", ref="relais-7", code="6", price=1200)
    assert reports.decode(reports.encode(original)) == original


def test_a_batch_costs_the_same_statements_whatever_its_size(runtime_any_db: Settings) -> None:
    """The report job's cost per batch is fixed (lookup, locked read, subscriber check, one
    UPDATE), not one statement per report: 5 and 60 reports take the same number. On PostgreSQL
    the UPDATE is one statement from arrays, not an executemany running once per report."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        for n in range(65):
            _sent(session, f"+336123460{n:02d}", f"B{n}")
    statements: list[str] = []
    runs = [0]

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, _context: object, many: bool) -> None:
        statements.append(statement)
        runs[0] += len(parameters) if many else 1

    counts, executions = [], []
    for numbers in (range(5), range(5, 65)):
        reports.stage(client, [_report("delivered", f"B{n}", price=33300) for n in numbers])
        statements.clear()
        runs[0] = 0
        event.listen(db.engine(), "before_cursor_execute", record)
        try:
            assert reports.apply_pending(client) == len(numbers)
        finally:
            event.remove(db.engine(), "before_cursor_execute", record)
        counts.append(len(statements))
        executions.append(runs[0])
    assert counts[0] == counts[1] <= 5
    if db.engine().dialect.name == "postgresql":
        assert executions[0] == executions[1], executions
    with db.session_scope() as session:
        assert set(session.scalars(select(Message.status))) == {"delivered"}
