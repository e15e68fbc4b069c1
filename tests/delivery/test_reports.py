"""Delivery reports kept by the webhook and applied in batches by a job, on SQLite and PostgreSQL:
one job scheduled for a burst and none while it runs, every report applied in order (never backwards),
by provider id, part id or client-ref, unknown ones ignored, replays harmless, a failed batch kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from channels.base import DeliveryReport, DeliveryStatus
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message, MessageProviderId
from core import db
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from delivery import reports, states

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _sent(session: Session, phone: str, provider_id: str | None, *, status: str = "sent") -> int:
    contact, _ = get_or_create_by_phone(session, phone_e164=phone)
    message = flows.queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="api")
    message.status, message.provider, message.provider_message_id = status, "vonage-sms", provider_id
    session.flush()
    return message.id


def _report(
    status: DeliveryStatus,
    provider_id: str,
    *,
    ref: str | None = None,
    code: str | None = None,
    price: int | None = None,
) -> DeliveryReport:
    return DeliveryReport(
        provider="vonage-sms",
        provider_message_id=provider_id,
        status=status,
        occurred_at=NOW,
        provider_status=status,
        provider_code=code,
        client_ref=ref,
        price_micros=price,
    )


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
    """The report job's cost per batch is fixed, not one statement per report: 5 and 60 reports take
    the same number, two on PostgreSQL (one locked read that finds the rows and asks for subscribers,
    one UPDATE from arrays, not an executemany running once per report; four before, with the
    lookup and the subscriber check apart), three on SQLite (its write lock first)."""
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
    postgres = db.engine().dialect.name == "postgresql"
    assert counts[0] == counts[1] == (2 if postgres else 3), statements
    if postgres:
        assert executions[0] == executions[1], executions
    with db.session_scope() as session:
        assert set(session.scalars(select(Message.status))) == {"delivered"}


def test_reports_pushed_while_the_job_runs_schedule_no_other_job(
    runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running job keeps the flag up: a campaign's webhooks meanwhile queue nothing (they queued a
    job per batch, most of which found the list empty); once it found the list empty, the next does."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        for n in range(6):
            _sent(session, f"+3361234570{n}", f"R{n}")
    reports.stage(client, [_report("delivered", f"R{n}") for n in range(3)])
    assert get_queue("inbound").count == 1
    original = states.apply_delivery_reports
    batches: list[int] = []

    def apply_while_webhooks_arrive(session: Session, batch: list[DeliveryReport]) -> list[int | None]:
        batches.append(len(batch))
        if len(batches) == 1:
            reports.stage(client, [_report("delivered", f"R{n}") for n in range(3, 5)])
        return original(session, batch)

    monkeypatch.setattr(states, "apply_delivery_reports", apply_while_webhooks_arrive)
    assert reports.apply_pending(client, batch=3) == 5
    assert batches == [3, 2]
    assert get_queue("inbound").count == 1  # the first job's only: none queued by the reports it took
    reports.stage(client, [_report("delivered", "R5")])
    assert get_queue("inbound").count == 2  # the list was found empty: the next report schedules a job
    assert reports.apply_pending(client) == 1
    with db.session_scope() as session:
        assert list(session.scalars(select(Message.status).distinct())) == ["delivered"]


class _PushedAsTheFlagDrops(redis.Redis):
    """A client through which a webhook's report lands just before the job's first clearing of the flag."""

    landed = False

    def delete(self, *names: Any) -> Any:
        if reports.SCHEDULED_KEY in names and not self.landed:
            self.landed = True
            reports.stage(self, [_report("delivered", "L1")])  # the flag is up: this schedules no job
        return super().delete(*names)


def test_a_report_pushed_as_the_job_finds_the_list_empty_is_taken_by_it(runtime_any_db: Settings) -> None:
    plain = get_redis(runtime_any_db)
    client = _PushedAsTheFlagDrops(connection_pool=plain.connection_pool)
    with db.session_scope() as session:
        late = _sent(session, "+33612345710", "L1")
    reports.stage(client, [_report("delivered", "L0")])  # unknown: ignored
    assert reports.apply_pending(client) == 2
    assert plain.llen(reports.PENDING_KEY) == 0
    with db.session_scope() as session:
        assert session.get(Message, late).status == "delivered"  # type: ignore[union-attr]


def test_a_failed_batch_goes_back_whole_and_the_next_run_applies_it(
    runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        ids = [_sent(session, f"+3361234572{n}", f"F{n}") for n in range(4)]
    reports.stage(client, [_report("delivered", f"F{n}") for n in range(4)])
    original = states.apply_delivery_reports

    def database_down(session: Session, batch: list[DeliveryReport]) -> list[int | None]:
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(states, "apply_delivery_reports", database_down)
    with pytest.raises(OperationalError):
        reports.apply_pending(client, batch=3)
    assert [reports.decode(r).provider_message_id for r in client.lrange(reports.PENDING_KEY, 0, -1)] == [
        "F0", "F1", "F2", "F3"]  # fmt: skip
    monkeypatch.setattr(states, "apply_delivery_reports", original)
    assert reports.apply_pending(client, batch=3) == 4
    with db.session_scope() as session:
        assert {session.get(Message, i).status for i in ids} == {"delivered"}  # type: ignore[union-attr]
