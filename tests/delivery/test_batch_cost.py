"""What a campaign's send batch costs the database: a fixed number of statements, none per message.

A campaign sends in batches of 500 on every worker: a statement run once per message (an
executemany) or a parameter per message (an IN list psycopg re-parses each time) cost a send worker
more processor time than the batch's other database work. On PostgreSQL the batch's statements
must not grow with its size; on SQLite (one writer, in process) the per-row UPDATE of the sends is
kept, and only the outcome is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select, update

from campaigns.models import Campaign
from campaigns.prepare import prepare_chunk
from channels.senders import create_sender, set_account_rate
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine

SENDERS = ("38100", "38101")


def _campaign_messages(count: int, senders: tuple[str, ...] = SENDERS) -> list[int]:
    with db.session_scope() as session:
        for address in senders:
            create_sender(session, kind="short_code", address=address, country="FR", throughput=2000)
        set_account_rate(session, name="default", throughput=4000)
        for n in range(count):
            create_contact(session, n)
        campaign = create_campaign(session, create_template(session))
        campaign.status = "running"
        prepare_chunk(session, session.get_one(Campaign, campaign.id), now=datetime.now(UTC))
        return list(session.scalars(select(Message.id).order_by(Message.id)))


@contextmanager
def _listening(name: str, listener: Callable[..., None]) -> Iterator[None]:
    """``listener`` on the database engine's ``name`` event while the block runs."""
    event.listen(db.engine(), name, listener)
    try:
        yield
    finally:
        event.remove(db.engine(), name, listener)


class _Statements:
    """Statements run (an executemany counting once per row), the widest parameter list, and the statements
    that look rows up by an empty list of ids (a round trip for nothing)."""

    def __init__(self) -> None:
        self.runs = 0
        self.widest = 0
        self.empty_lookups: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.runs += len(parameters) if many else 1
        if "IN (NULL) AND (1 != 1)" in statement:
            self.empty_lookups.append(statement)
        for params in parameters if many else [parameters]:
            self.widest = max(self.widest, len(params or ()))


def test_a_campaign_batch_runs_the_same_statements_whatever_its_size(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    ids = _campaign_messages(40)
    engine = make_engine(fake, runtime_any_db)
    postgres = db.engine().dialect.name == "postgresql"
    costs = []
    for batch in (ids[:10], ids[10:]):
        seen = _Statements()
        with _listening("before_cursor_execute", seen):
            report = engine.send_batch(batch)
        assert report.sent == len(batch)
        assert seen.empty_lookups == []  # nothing failed: no failure is read back
        costs.append(seen)
    engine.close()
    with db.session_scope() as session:
        rows = session.execute(select(Message.status, Message.sender, Message.attempts, Message.provider_message_id))
        stored = list(rows)
    assert {(status, attempts) for status, _, attempts, _ in stored} == {("sent", 1)}
    assert {sender for _, sender, _, _ in stored} == set(SENDERS)  # both short codes were used
    assert len({pid for *_, pid in stored}) == 40  # every row has its own provider id
    assert len(fake.requests) == 40
    if postgres:
        small, large = costs
        # claim, authority, senders (one UPDATE per short code), the sends (one locking read and one
        # UPDATE): the same count for 10 and 30 messages, and no statement with a parameter per message
        assert small.runs == large.runs, (small.runs, large.runs)
        assert small.widest == large.widest, (small.widest, large.widest)


def test_a_campaign_batch_runs_the_same_statements_whatever_its_short_codes(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """A batch spread over many short codes (12 in the campaign bench) stores its senders in as many
    statements as one sent by a single short code: on PostgreSQL one UPDATE from arrays, not one per sender."""
    senders = ("38100", "38101", "38102", "38103")
    ids = _campaign_messages(40, senders)
    with db.session_scope() as session:  # the first half pinned to one short code, the rest to four in turn
        session.execute(update(Message).where(Message.id.in_(ids[:20])).values(sender=senders[0]))
        for n, message_id in enumerate(ids[20:]):
            session.execute(update(Message).where(Message.id == message_id).values(sender=senders[n % 4]))
    engine = make_engine(fake, runtime_any_db)
    costs = []
    for batch in (ids[:20], ids[20:]):
        seen = _Statements()
        with _listening("before_cursor_execute", seen):
            assert engine.send_batch(batch).sent == len(batch)
        costs.append(seen.runs)
    engine.close()
    with db.session_scope() as session:
        used = dict(session.execute(select(Message.sender, func.count()).where(Message.id.in_(ids[20:]))
                                    .group_by(Message.sender)).all())
        assert set(used) == set(senders), used
        assert set(session.scalars(select(Message.status))) == {"sent"}
    if db.engine().dialect.name == "postgresql":
        assert costs[0] == costs[1], costs


def test_no_index_of_messages_is_covered_by_another() -> None:
    """Every status change of an outbound message (queued, sending, sent, delivered) writes an entry into
    each index of the table; an index whose columns lead another one serves no lookup the other cannot,
    so it only costs writes. Unique constraints are kept: they are rules, not lookups."""
    indexes = [tuple(c.name for c in index.columns) for index in Message.__table__.indexes  # type: ignore[attr-defined]
               if not index.unique]
    covered = [(a, b) for a in indexes for b in indexes if a != b and b[: len(a)] == a]
    assert covered == []


def test_a_sent_campaign_message_is_written_twice_by_its_batch_on_postgresql(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """Each row version writes an entry into every index of ``messages``: the batch writes a sent message
    once claimed with its sender and attempt (before the provider call, one transaction) and once recorded
    sent; the claim was a row version of its own before. SQLite keeps its claim UPDATE (no row locks)."""
    ids = _campaign_messages(20)
    engine = make_engine(fake, runtime_any_db)
    written: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE MESSAGES") and cursor.rowcount > 0:
            written.append(cursor.rowcount)

    try:
        with _listening("after_cursor_execute", count):
            assert engine.send_batch(ids).sent == 20
    finally:
        engine.close()
    per_message = sum(written) / len(ids)
    assert per_message == (2 if db.engine().dialect.name == "postgresql" else 3), written


def test_the_batch_arrays_reach_postgresql_as_values_its_planner_reads(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """An array passed as text must arrive untyped (PostgreSQL reads it as the array it is cast to, a constant
    at planning): a ``varchar`` parameter cast at run time hid the claim's ids from the planner, which then
    scanned every queued row by status instead of probing the batch's ids (2-3 x PostgreSQL's time per message
    in ``bench.send_path``)."""
    ids = _campaign_messages(10)
    engine = make_engine(fake, runtime_any_db)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    try:
        with _listening("before_cursor_execute", seen):
            assert engine.send_batch(ids).sent == 10
    finally:
        engine.close()
    assert [s for s in statements if "::VARCHAR AS BIGINT[]" in s.upper()] == []
