"""Delivery reports kept by the webhook and applied in batches by a job, on SQLite and PostgreSQL:
one job scheduled for a burst and none while it runs, every report applied in order (never backwards),
by provider id, part id or client-ref, unknown ones ignored, replays harmless, a failed batch kept."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.tuples(_text, _text, _text, _text),
    optional=st.lists(st.one_of(st.none(), _text), min_size=5, max_size=5),
    price=st.one_of(st.none(), st.integers(-(10**12), 10**12)),
    currency=st.one_of(st.none(), _text, st.integers(), st.floats(allow_nan=False), st.booleans()),
    offset=st.integers(-14 * 60, 14 * 60),
)
def test_a_report_is_staged_as_json_dumps_writes_it(
    texts: tuple[str, str, str, str], optional: list[str | None], price: int | None, currency: Any, offset: int
) -> None:
    """The staged text is byte for byte ``json.dumps`` of the report's fields (a worker still running the
    previous code reads it, and this one reads what that code staged), and it decodes to the same report."""
    provider, provider_id, provider_status, _ = texts
    code, description, to, ref, _ = optional
    report = DeliveryReport(
        provider=provider, provider_message_id=provider_id, status="delivered",
        occurred_at=datetime(2026, 11, 30, 17, 3, 9, 5, tzinfo=timezone(timedelta(minutes=offset))),
        provider_status=provider_status, provider_code=code, description=description, to=to, client_ref=ref,
        price_micros=price, currency=currency, raw={"sig": "x"},
    )  # fmt: skip
    names = "provider provider_message_id status occurred_at provider_status provider_code description client_ref"
    fields = {name: getattr(report, name) for name in [*names.split(), "price_micros", "currency"]}
    fields["occurred_at"] = report.occurred_at.isoformat()
    assert reports.encode(report) == json.dumps(fields)
    assert reports.decode(reports.encode(report)) == replace(report, to=None)  # the number is not staged
    assert reports.decode(json.dumps({**fields, "to": to})) == report  # what the previous code staged is read


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


def test_reports_pushed_while_reports_are_left_schedule_no_other_job(
    runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flag stays up while the job has reports left: a campaign's webhooks meanwhile queue nothing (they
    queued a job per batch, most of which found the list empty); the pop that empties the list drops it, so
    the next report schedules a job, and the job ends with that batch instead of popping a few more."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        for n in range(8):
            _sent(session, f"+3361234570{n}", f"R{n}")
    reports.stage(client, [_report("delivered", f"R{n}") for n in range(5)])
    assert get_queue("inbound").count == 1
    original = states.apply_delivery_reports
    batches: list[int] = []

    def apply_while_webhooks_arrive(session: Session, batch: list[DeliveryReport]) -> list[int | None]:
        batches.append(len(batch))
        if len(batches) == 1:
            reports.stage(client, [_report("delivered", f"R{n}") for n in range(5, 7)])
        return original(session, batch)

    monkeypatch.setattr(states, "apply_delivery_reports", apply_while_webhooks_arrive)
    assert reports.apply_pending(client, batch=3) == 7
    assert batches == [3, 3, 1]
    assert get_queue("inbound").count == 1  # the first job's only: none queued by the reports it took
    assert not client.exists(reports.SCHEDULED_KEY)  # dropped by the pop that emptied the list
    reports.stage(client, [_report("delivered", "R7")])
    assert get_queue("inbound").count == 2  # the next report schedules a job
    assert reports.apply_pending(client) == 1
    with db.session_scope() as session:
        assert list(session.scalars(select(Message.status).distinct())) == ["delivered"]


@pytest.mark.parametrize("job_pops", ["between the webhook's two commands", "after them"])
def test_a_report_pushed_as_the_job_empties_the_list_is_taken_or_schedules_a_job(
    runtime_any_db: Settings, job_pops: str
) -> None:
    """A webhook pushes its reports, then raises the flag (two commands, not a transaction). Whichever way
    the job's last pop falls between them, the report is applied by this job or schedules the next one:
    none waits in the list with the flag up and no job coming."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        late = _sent(session, "+33612345710", "L1")
    reports.stage(client, [_report("delivered", "L0")])  # unknown: ignored; the flag is up, a job queued
    push, flag = reports._push_commands([reports.encode(_report("delivered", "L1"))])
    client.execute_command(*push)
    if job_pops == "after them":
        assert client.execute_command(*flag) is None  # the flag is up: this webhook schedules nothing
        assert reports.apply_pending(client) == 2  # and this job takes its report
    else:
        assert reports.apply_pending(client) == 2  # the job takes the report and drops the flag...
        assert client.execute_command(*flag) is not None  # ...so the webhook schedules a job (finding nothing)
    assert client.llen(reports.PENDING_KEY) == 0
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
        reports.apply_pending(client, batch=5)  # the pop empties the list: the flag went down with it
    assert [reports.decode(r).provider_message_id for r in client.lrange(reports.PENDING_KEY, 0, -1)] == [
        "F0", "F1", "F2", "F3"]  # fmt: skip
    assert client.exists(reports.SCHEDULED_KEY)  # up again: no webhook schedules a job that would fail alike
    monkeypatch.setattr(states, "apply_delivery_reports", original)
    assert reports.apply_pending(client, batch=3) == 4
    with db.session_scope() as session:
        assert {session.get(Message, i).status for i in ids} == {"delivered"}  # type: ignore[union-attr]


def test_a_waiting_report_keeps_no_number(runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider's report names the recipient (Vonage's ``msisdn``/``to``); nothing applying it reads the number,
    and a report waiting in Redis (the database down, no worker running) kept it there in clear, where a contact's
    erasure does not reach. It is staged without it, and still applied."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        sent = _sent(session, "+33612345731", "N1")
    report = DeliveryReport(provider="vonage-sms", provider_message_id="N1", status="delivered", occurred_at=NOW,
                            provider_status="delivered", to="+33612345731", raw={"msisdn": "33612345731"})

    def database_down(session: Session, batch: list[DeliveryReport]) -> list[int | None]:
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    original = states.apply_delivery_reports
    monkeypatch.setattr(states, "apply_delivery_reports", database_down)
    reports.stage(client, [report])
    with pytest.raises(OperationalError):
        reports.apply_pending(client)
    waiting = client.lrange(reports.PENDING_KEY, 0, -1)
    assert len(waiting) == 1 and b"12345731" not in waiting[0]
    monkeypatch.setattr(states, "apply_delivery_reports", original)
    assert reports.apply_pending(client) == 1
    with db.session_scope() as session:
        assert session.get(Message, sent).status == "delivered"  # type: ignore[union-attr]


def test_a_report_stamped_before_the_send_was_recorded_never_delivers_before_it_was_sent(
    runtime_any_db: Settings,
) -> None:
    """The provider stamps its report with its own clock, and can stamp it before the worker records the send
    (the simulator delivers while the send call returns; a provider's clock may run behind ours): an API user
    read ``delivered_at`` 30 ms before ``sent_at``. Delivery is stamped no earlier than the send."""
    client = get_redis(runtime_any_db)
    with db.session_scope() as session:
        message_id = _sent(session, "+33612345605", "P5")
        session.get(Message, message_id).sent_at = NOW + timedelta(milliseconds=30)  # type: ignore[union-attr]
    reports.stage(client, [_report("delivered", "P5")])  # occurred_at NOW: before the recorded send
    assert reports.apply_pending(client) == 1
    with db.session_scope() as session:
        row = session.get(Message, message_id)
        assert row is not None and row.status == "delivered"
        assert row.sent_at is not None and row.delivered_at is not None
        assert row.delivered_at.replace(tzinfo=UTC) >= row.sent_at.replace(tzinfo=UTC)
