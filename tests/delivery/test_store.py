"""The engine's concurrency paths on SQLite and PostgreSQL: claim, due and orphan queries, conditional updates."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from channels.base import DeliveryReport, SendResult
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message
from core import db
from core.settings import Settings
from delivery import states, store

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=600)


def _queued(session: Session, *, not_before: datetime | None = None, created_at: datetime = NOW,
            wait_reason: str = "") -> int:
    contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
    message = flows.queue_outbound(session, contact=contact, body="hi", lane="transactional", author_type="api")
    message.not_before, message.created_at, message.wait_reason = not_before, created_at, wait_reason
    session.flush()
    return message.id


def test_a_message_is_claimed_by_one_worker_only(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message_id = _queued(session)
    with db.session_scope() as session:
        _, first = store.claim(session, [message_id], now=NOW)
    with db.session_scope() as session:
        _, second = store.claim(session, [message_id], now=NOW)
    assert [m.id for m in first] == [message_id] and second == []


def test_claim_takes_only_due_rows(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        now_row = _queued(session)
        due = _queued(session, not_before=NOW)
        later = _queued(session, not_before=NOW + timedelta(seconds=1))
    with db.session_scope() as session:
        _, rows = store.claim(session, [now_row, due, later], now=NOW)
        assert sorted(r.id for r in rows) == [now_row, due]
        assert session.get_one(Message, later).status == "queued"


def test_orphans_are_overdue_by_their_planned_time_never_earlier(runtime_any_db: Settings) -> None:
    old = NOW - 2 * LEASE
    with db.session_scope() as session:
        lost_job = _queued(session, created_at=old)  # no planned time: overdue since its creation
        overdue = _queued(session, created_at=old, not_before=NOW - LEASE - timedelta(seconds=1))
        planned_later = _queued(session, created_at=old, not_before=NOW + timedelta(hours=9))
        within_lease = _queued(session, created_at=old, not_before=NOW - LEASE + timedelta(seconds=1))
        paused = _queued(session, created_at=old, not_before=old, wait_reason="paused")
        fresh = _queued(session, created_at=NOW)
    with db.session_scope() as session:
        found = {m.id for m in store.orphaned(session, now=NOW, older_than=LEASE)}
    assert found == {lost_job, overdue}
    assert not found & {planned_later, within_lease, paused, fresh}


def test_stuck_rows_are_those_claimed_before_the_lease(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        early, late = _queued(session), _queued(session)
    with db.session_scope() as session:
        store.claim(session, [early], now=NOW - LEASE - timedelta(seconds=1))
        store.claim(session, [late], now=NOW - LEASE + timedelta(seconds=1))
    with db.session_scope() as session:
        assert [m.id for m in store.stuck(session, now=NOW, older_than=LEASE)] == [early]


def test_requeue_records_when_and_why_and_only_touches_claimed_rows(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        claimed, untouched = _queued(session), _queued(session)
    with db.session_scope() as session:
        store.claim(session, [claimed], now=NOW)
        store.requeue(session, [claimed, untouched], at=NOW + timedelta(seconds=30), reason="retry",
                      detail="retry 2 of 5 after: throttled")
    with db.session_scope() as session:
        row = session.get_one(Message, claimed)
        assert (row.status, row.claim_token, row.wait_reason) == ("queued", "", "retry")
        assert row.not_before is not None and row.not_before.replace(tzinfo=UTC) == NOW + timedelta(seconds=30)
        other = session.get_one(Message, untouched)
        assert (other.status, other.not_before, other.wait_reason) == ("queued", None, "")


def test_recording_a_send_never_overwrites_a_report_that_came_first(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message_id = _queued(session)
    with db.session_scope() as session:
        token, _ = store.claim(session, [message_id], now=NOW)
    with db.session_scope() as session:  # the provider's report outruns our own commit
        states.apply_delivery_report(session, report=DeliveryReport(
            provider="vonage-sms", provider_message_id="P1", status="delivered", occurred_at=NOW,
            client_ref=f"relais-{message_id}"))
    with db.session_scope() as session:
        result = SendResult(provider="vonage-sms", provider_message_id="P1", segments=1, encoding="GSM-7")
        store.record_sent(session, {message_id: result}, token_of={message_id: token})
    with db.session_scope() as session:
        status, pid = session.execute(
            select(Message.status, Message.provider_message_id).where(Message.id == message_id)).one()
    assert (status, pid) == ("delivered", "P1")


def test_prepare_stores_the_sender_and_the_attempt_before_the_send(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message_id = _queued(session, wait_reason="retry")
        gone, _ = get_or_create_by_phone(session, phone_e164="+33612345679")
        erased = flows.queue_outbound(session, contact=gone, body="hi", lane="transactional", author_type="api").id
        gone.phone = None  # erased since it was queued
    with db.session_scope() as session:
        _, rows = store.claim(session, [message_id, erased], now=NOW)
        [ready] = store.prepare(session, rows, channel="simulator", default_account_rate=30.0)
        assert (ready.id, ready.attempts, ready.to) == (message_id, 1, "+33612345678")
        row = session.get_one(Message, message_id)  # the session's copy agrees with the table
        assert (row.sender, row.attempts, row.wait_reason) == (ready.sender.address, 1, "")
        assert session.get_one(Message, erased).status == "rejected"
    with db.session_scope() as session:
        stored = session.get_one(Message, message_id)
        assert (stored.status, stored.sender, stored.attempts, stored.wait_reason) == (
            "sending", ready.sender.address, 1, "")


def test_the_claimed_rows_are_read_back_by_primary_key_not_by_scanning(runtime_any_db: Settings) -> None:
    """claim_token has no index: reading the claim back by token alone scanned every message ever
    sent, once per batch of 500."""
    with db.session_scope() as session:
        ids = [_queued(session) for _ in range(3)]
    engine = db.engine()
    reads: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "claim_token" in statement:
            reads.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with db.session_scope() as session:
            _, rows = store.claim(session, ids, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert sorted(r.id for r in rows) == ids and len(reads) == 1
    statement, parameters = reads[0]
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a 3-row table is scanned whatever the indexes
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            assert "Index Cond: (id = ANY" in plan, plan
        else:
            plan = "\n".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "USING INTEGER PRIMARY KEY" in plan, plan


def test_a_worker_taking_ids_another_is_sending_waits_and_then_finds_them_claimed(runtime_any_db: Settings) -> None:
    """The engine's claim (``take``): on PostgreSQL a row lock, the claim written with the sender in the same
    transaction; a second worker handed the same ids while the first holds them gets none, once the first
    commits, and the row holds the first worker's claim and sender."""
    with db.session_scope() as session:
        message_id = _queued(session)
    postgres = db.engine().dialect.name == "postgresql"
    with db.session_scope() as session:
        token, rows = store.take(session, [message_id], now=NOW, owner="wfirst")
        assert [(r.id, r.status, r.claim_token) for r in rows] == [(message_id, "sending", token)]
        [ready] = store.prepare(session, rows, channel="simulator", default_account_rate=30.0, claim=(token, NOW))
        if postgres:  # another worker meanwhile: blocked by the row lock, then finds the row claimed
            found: list[list[Message]] = []
            second = threading.Thread(target=lambda: found.append(_take_in_own_session(message_id)))
            second.start()
            _wait_for_a_lock_wait()
    if postgres:
        second.join(timeout=30)
        assert found == [[]]
    with db.session_scope() as session:
        assert store.take(session, [message_id], now=NOW)[1] == []  # and so does any later one
        row = session.get_one(Message, message_id)
        assert (row.status, row.claim_token, row.sender, row.attempts) == ("sending", token, ready.sender.address, 1)
        assert store.owner_of(row.claim_token) == "wfirst"


def test_the_engine_claim_loads_only_what_the_batch_reads(runtime_any_db: Settings) -> None:
    """``take`` on PostgreSQL: one locking read by the ids, the claim among the values read, and not the
    columns no check reads (converting whole rows was most of the claim's processor time); any of them read
    anyway is loaded then, with its stored value."""
    with db.session_scope() as session:
        ids = [_queued(session, not_before=NOW - timedelta(seconds=5)) for _ in range(3)]
        session.get_one(Message, ids[0]).analysis = {"why": "kept"}
    engine = db.engine()
    reads: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with db.session_scope() as session:
            token, rows = store.take(session, ids, now=NOW, owner="w1")
            claimed = [(r.id, r.status, r.claim_token, r.claimed_at, r.body, r.not_before) for r in rows]
            assert len(reads) == 1
            assert (rows[0].analysis, rows[0].created_at) == ({"why": "kept"}, NOW)  # loaded when read
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert claimed == [(i, "sending", token, NOW, "hi", NOW - timedelta(seconds=5)) for i in ids]
    if engine.dialect.name != "postgresql":
        return
    statement, parameters = reads[0]
    assert "FOR UPDATE" in statement and "analysis" not in statement and "created_at" not in statement
    # the ids as one untyped array literal, cast in the statement: in the planner's sight (see array_literal)
    assert parameters["ids"] == "{" + ",".join(map(str, ids)) + "}"
    assert "id = ANY(CAST(%(ids)s AS BIGINT[]))" in statement
    with db.session_scope() as session:  # nothing written by the read: the claim is stored with the sender
        assert {session.get_one(Message, i).status for i in ids} == {"queued"}


def _take_in_own_session(message_id: int) -> list[Message]:
    with db.session_scope() as session:
        return store.take(session, [message_id], now=NOW)[1]


def _wait_for_a_lock_wait() -> None:
    """Until a PostgreSQL backend is waiting for a row lock (the second worker's take)."""
    deadline = time.monotonic() + 30
    with db.engine().connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")).scalar()  # fmt: skip
            conn.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second worker never waited for the row lock")


def test_array_literals_read_back_as_the_values_on_postgresql(runtime_any_db: Settings) -> None:
    """The send batch passes its arrays to PostgreSQL as text (``store.array_literal``): every value comes back as
    it was, quotes, backslashes, control characters, separators and NULL included."""
    if db.engine().dialect.name != "postgresql":
        return
    texts: list[str | None] = ['a"b', "c\\d", "e\\nf", "line\nbreak", "tab\there", "\x01", "x,y", "{z}", "NULL", "",
                               " padded ", "é€😀", None, "relais-12@worker"]  # fmt: skip
    numbers: list[int | None] = [1, -2, 9_007_199_254_740_993, None]
    with db.engine().connect() as conn:
        assert conn.scalar(text("SELECT CAST(:v AS TEXT[])"), {"v": store.array_literal(texts)}) == texts
        assert conn.scalar(text("SELECT CAST(:v AS BIGINT[])"), {"v": store.array_literal(numbers)}) == numbers
        assert conn.scalar(text("SELECT CAST(:v AS TEXT[])"), {"v": store.array_literal(["plain", "ref-1"])}) == [
            "plain", "ref-1"]
        assert conn.scalar(text("SELECT CAST(:v AS BIGINT[])"), {"v": store.array_literal([])}) == []
