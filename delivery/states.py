"""The state machine of an outbound message, and the provider's delivery reports that drive it.

``queued`` (waiting for its planned time; see :mod:`delivery.authority`) → ``sending`` (claimed by
a worker, see :func:`delivery.store.claim`) → ``sent`` (the provider accepted it) → ``delivered``
or ``failed`` by delivery report. Without a send: ``rejected`` (consent, campaign cancelled, cap),
``expired`` (past ``expires_at``), ``dead`` (retries or senders exhausted). A retry or a wait puts
a claimed row back to ``queued``.

Reports can arrive late and out of order, so a later state always wins: :data:`RANK` stops a
late "sent" from moving a ``delivered`` message backwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import Any, Protocol

import structlog
from sqlalchemy import Boolean, Table, TextClause, Update, bindparam, column, exists, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

from channels.base import DeliveryReport
from conversations import service
from conversations.models import Message, MessageProviderId
from core import live, webhooks
from core.models import WebhookSubscription
from core.sql import among, array_literal

log = structlog.get_logger("relais.delivery")
_messages: Table = Message.__table__  # type: ignore[assignment]
_provider_ids: Table = MessageProviderId.__table__  # type: ignore[assignment]
_subscriptions: Table = WebhookSubscription.__table__  # type: ignore[assignment]
_ANY_SUBSCRIBER = select(exists().where(_subscriptions.c.active.is_(True)))

#: Later states win; a report never moves a message backwards (a late "sent" after "delivered").
RANK = {
    "queued": 0,
    "accepted": 0,
    "sending": 1,
    "sent": 2,
    "dead": 2,  # we gave up, but the provider may still prove it went out
    "unknown": 3,
    "delivered": 4,
    "failed": 4,
    "rejected": 4,
    "expired": 4,
}
_FAILED = frozenset({"failed", "rejected", "expired"})


class StatusFields(Protocol):
    """What a ``message.status`` event says: an ORM :class:`Message` or a :class:`Tracked` row."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def lane(self) -> str: ...
    @property
    def contact_id(self) -> int: ...
    @property
    def campaign_id(self) -> int | None: ...
    @property
    def provider_message_id(self) -> str | None: ...
    @property
    def error_code(self) -> str: ...
    @property
    def error_reason(self) -> str: ...


def status_event(message: StatusFields) -> dict[str, Any]:
    """The ``message.status`` webhook payload (no personal data)."""
    return {
        "id": message.id,
        "status": message.status,
        "lane": message.lane,
        "contact_id": message.contact_id,
        "campaign_id": message.campaign_id,
        "provider_message_id": message.provider_message_id,
        "error_code": message.error_code or None,
        "error_reason": message.error_reason or None,
    }


@dataclass(slots=True)
class Tracked:
    """The columns of an outbound message that reports move (the first eight, written back) or
    that its ``message.status`` event names: read with Core rather than as ORM objects, because the
    report job applies thousands a second and loading and flushing whole ``Message`` objects cost
    most of its time."""

    status: str
    provider: str
    provider_message_id: str | None
    sent_at: datetime | None
    price_micros: int | None
    delivered_at: datetime | None
    error_code: str
    error_reason: str
    id: int
    lane: str
    contact_id: int
    campaign_id: int | None

    def written(self) -> tuple[Any, ...]:
        """The values a report may change, in :data:`_WRITTEN` order."""
        return _written_of(self)


_WRITTEN = (
    "status",
    "provider",
    "provider_message_id",
    "sent_at",
    "price_micros",
    "delivered_at",
    "error_code",
    "error_reason",
)
_written_of = attrgetter(*_WRITTEN)


class StaleRead(RuntimeError):
    """A row changed between its locked read and the batch's write (the batch is rolled back)."""


def apply_delivery_report(session: Session, *, report: DeliveryReport) -> Message | None:
    """Record a provider's news about a sent message; ``None`` when no message matches.

    A report for a message still ``sending`` (its worker died, or the send timed out) proves the
    provider took it: the provider id is adopted so recovery never sends it again. The message is
    returned as the session's ORM object, up to date (the SMPP listener, the simulator and tests
    read it).
    """
    [message_id] = apply_delivery_reports(session, [report])
    return None if message_id is None else session.get(Message, message_id)


def apply_delivery_reports(session: Session, reports: Sequence[DeliveryReport]) -> list[int | None]:
    """:func:`apply_delivery_report` for many reports in one transaction, in order; returns the
    message id of each report, or ``None``.

    The report job applies thousands a second during a campaign, in batches of a few dozen, so a
    batch costs a fixed number of statements whatever its size: one locked read of every row the
    reports may be about, which also says whether anyone subscribes to ``message.status``; a read of
    part ids only when a report's provider id is not a message's own; one UPDATE of the rows whose
    values changed. ``message.status`` events go out for each change, in order, when someone subscribes.
    """
    session.flush()  # the caller's pending changes are what the reads below must see
    rows, subscribed = _lock(session, reports)
    target = _targets(session, reports, rows)
    seen = {message_id: row.written() for message_id, row in rows.items()}
    events: list[dict[str, Any]] = []
    matched: list[int | None] = []
    for report in reports:
        message_id = target.get(id(report))
        row = None if message_id is None else rows.get(message_id)
        if row is None:
            log.info("delivery report for an unknown message", provider=report.provider, ref=report.client_ref)
            matched.append(None)
            continue
        if _apply(row, report) and subscribed:
            events.append(status_event(row))
        matched.append(row.id)
    changed = [row for message_id, row in rows.items() if row.written() != seen[message_id]]
    _write(session, changed, seen)
    if events:
        webhooks.emit_many(session, "message.status", events)
    _announce_conversation_statuses(session, [row for row in changed if row.status != seen[row.id][0]])
    return matched


_CONVERSATION_ROWS = text(
    "SELECT id, conversation_id, status FROM messages WHERE id IN :ids AND conversation_id IS NOT NULL"
).bindparams(bindparam("ids", expanding=True))


def conversation_rows(session: Session, message_ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """(id, conversation id, status) of the conversation messages among ``message_ids``, for the live console."""
    return [(i, c, status) for i, c, status in session.connection().execute(_CONVERSATION_ROWS,
                                                                             {"ids": list(message_ids)})]


def _announce_conversation_statuses(session: Session, moved: list[Tracked]) -> None:
    """Tell open consoles the new status of the conversation messages among ``moved`` (after the commit).

    A campaign's rows are told apart by what the locked read already holds (its campaign, its lane): a batch
    of campaign reports runs no statement and no Redis command more; only a batch holding other messages
    asks which of them belong to a conversation (one statement for the batch)."""
    candidates = [row.id for row in moved if row.campaign_id is None and row.lane != "marketing"]
    if candidates:
        live.statuses_after_commit(session, conversation_rows(session, candidates))


def _lock(session: Session, reports: Sequence[DeliveryReport]) -> tuple[dict[int, Tracked], bool]:
    """Every outbound row ``reports`` may be about — by provider id, part id or client-ref: a superset
    of their targets — locked until the transaction ends so nothing changes them between this read
    and :func:`_write`, in one statement that also says whether any webhook subscription is active.

    One statement rather than a lookup, then the locked read of what it found, then the subscriber
    check: at the few dozen reports a batch holds during a campaign, each statement cost the job
    more than its rows did. PostgreSQL: row locks taken in id order, so two batches (or a batch and
    a send being recorded, :func:`delivery.store.record_sent`, which locks in id order too) never
    deadlock; the lists go as one array literal each (:func:`core.sql.array_literal`). SQLite
    has no row locks: the database's write lock is taken before the read instead (pysqlite would
    take it only at the first write, after the read, so a writer in between would be overwritten).
    """
    by_provider: dict[str, dict[str, None]] = defaultdict(dict)
    refs: dict[int, None] = {}
    for report in reports:
        by_provider[report.provider][report.provider_message_id] = None
        ref = service.message_id_from_ref(report.client_ref)
        if ref is not None:
            refs[ref] = None
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if not postgres and not getattr(connection.connection.dbapi_connection, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    values: Any = array_literal if postgres else list
    params: dict[str, Any] = {"refs": values(list(refs))}
    for n, (provider, provider_ids) in enumerate(by_provider.items()):
        params[f"provider{n}"], params[f"pids{n}"] = provider, values(list(provider_ids))
    found = connection.execute(_lock_statement(len(by_provider), postgres), params).all()
    rows = {row.id: row for row in (Tracked(*values[:-1]) for values in found)}
    return rows, bool(found and found[0][-1])  # the last column: whether anyone subscribes


@cache
def _lock_statement(providers: int, postgres: bool) -> TextualSelect:
    """:func:`_lock`'s statement for reports from ``providers`` providers."""

    def among(column: str, name: str, kind: str) -> str:
        return f"{column} = ANY(CAST(:{name} AS {kind}[]))" if postgres else f"{column} IN :{name}"

    anyone = [among("id", "refs", "BIGINT")]
    for n in range(providers):
        anyone.append(f"(provider = :provider{n} AND {among('provider_message_id', f'pids{n}', 'TEXT')})")
        parts = (
            f"SELECT message_id FROM message_provider_ids WHERE provider = :provider{n} "
            f"AND {among('provider_message_id', f'pids{n}', 'TEXT')}"
        )
        # an array computed once, so the planner probes the primary key (a sub-select under OR is a filter)
        anyone.append(f"id = ANY(ARRAY({parts}))" if postgres else f"id IN ({parts})")
    statement = text(
        f"SELECT {', '.join(f.name for f in fields(Tracked))}, "
        "EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = TRUE) AS subscribed "
        f"FROM messages WHERE direction = 'out' AND ({' OR '.join(anyone)}) ORDER BY id"
        + (" FOR UPDATE" if postgres else "")
    )
    if not postgres:
        statement = statement.bindparams(
            *(bindparam(name, expanding=True) for name in ("refs", *(f"pids{n}" for n in range(providers))))
        )
    return statement.columns(*(_messages.c[f.name] for f in fields(Tracked)), column("subscribed", Boolean))


def _targets(session: Session, reports: Sequence[DeliveryReport], rows: dict[int, Tracked]) -> dict[int, int]:
    """The outbound message id of each report (keyed by ``id(report)``): by provider id, by part id,
    else by client_ref, as :func:`conversations.service.find_for_report`. ``rows`` (:func:`_lock`)
    hold every message a report names by its own provider id; part ids are read only for the rest."""
    ids = {(row.provider, row.provider_message_id): row.id for row in rows.values()}
    unmatched: dict[str, list[str]] = defaultdict(list)
    for report in reports:
        if (report.provider, report.provider_message_id) not in ids:
            unmatched[report.provider].append(report.provider_message_id)
    if unmatched:
        connection = session.connection()
        dialect = connection.dialect.name
        for provider, provider_ids in unmatched.items():
            ids.update(
                ((provider, pid), mid)
                for mid, pid in connection.execute(
                    select(_provider_ids.c.message_id, _provider_ids.c.provider_message_id).where(
                        _provider_ids.c.provider == provider,
                        among(_provider_ids.c.provider_message_id, provider_ids, dialect),
                    )
                )
            )
    chosen = {
        id(r): ids.get((r.provider, r.provider_message_id)) or service.message_id_from_ref(r.client_ref)
        for r in reports
    }
    return {key: message_id for key, message_id in chosen.items() if message_id is not None}


def _write(session: Session, changed: list[Tracked], seen: dict[int, tuple[Any, ...]]) -> None:
    """Store the changed values: one UPDATE per set of changed columns (a campaign's batch of
    ``delivered`` reports is one: status and delivered_at) — from arrays on PostgreSQL, an
    executemany elsewhere — and make the session's own
    copies of those messages, if any, reload. The rows are locked already, so the order of the
    writes cannot deadlock."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in changed:
        before, after = seen[row.id], row.written()
        columns = tuple(name for name, old, new in zip(_WRITTEN, before, after, strict=True) if old != new)
        by_columns[columns].append(
            {"b_id": row.id, "b_seen": before[0], **{f"b_{name}": getattr(row, name) for name in columns}}
        )
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for columns, params in by_columns.items():
        if postgres:  # one statement for the batch, each array one text value, not one UPDATE per row
            arrays = {
                "ids": array_literal([p["b_id"] for p in params]),
                "seen": array_literal([p["b_seen"] for p in params]),
            }
            for name in columns:
                values = [p[f"b_{name}"] for p in params]
                arrays[name] = array_literal([_iso(value) for value in values] if name in _TIMES else values)
            written = connection.execute(_update_from_arrays(columns), arrays).rowcount
        else:
            written = connection.execute(_update_of(columns), params).rowcount
        if written != len(params):
            raise StaleRead(f"{len(params) - written} of {len(params)} messages changed behind their row lock")
    if session.identity_map:  # the report job's session holds no Message: nothing to look up
        for row in changed:
            instance = session.identity_map.get(session.identity_key(Message, row.id))
            if instance is not None:
                session.expire(instance)


_TIMES = frozenset({"sent_at", "delivered_at"})


def _aware(value: datetime | None) -> datetime | None:
    """A stored time with its offset (a naive one is UTC, as :class:`core.types.UTCDateTime` stores it)."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    """A time as an element of :func:`core.sql.array_literal`'s text: ISO form with its offset
    (a naive one is UTC, as :class:`core.types.UTCDateTime` stores it)."""
    aware = _aware(value)
    return None if aware is None else aware.isoformat()


#: PostgreSQL array types of the columns reports write
_ARRAY_TYPES = {
    "status": "TEXT",
    "provider": "TEXT",
    "provider_message_id": "TEXT",
    "sent_at": "TIMESTAMPTZ",
    "price_micros": "BIGINT",
    "delivered_at": "TIMESTAMPTZ",
    "error_code": "TEXT",
    "error_reason": "TEXT",
}


@cache
def _update_from_arrays(columns: tuple[str, ...]) -> TextClause:
    """:func:`_update_of` for a whole batch on PostgreSQL: the rows joined to their new values
    unnested from one array per column, still only where the status is the one read."""
    arrays = ", ".join(f"CAST(:{name} AS {_ARRAY_TYPES[name]}[])" for name in columns)
    return text(
        f"UPDATE messages SET {', '.join(f'{name} = v.{name}' for name in columns)} "
        f"FROM unnest(CAST(:ids AS BIGINT[]), CAST(:seen AS TEXT[]), {arrays}) AS v(id, seen, {', '.join(columns)}) "
        # the ids also as an array: the planner cannot see the unnest's size, and would hash it against a scan
        "WHERE messages.id = v.id AND messages.status = v.seen AND messages.id = ANY(CAST(:ids AS BIGINT[]))"
    )


@cache
def _update_of(columns: tuple[str, ...]) -> Update:
    """The UPDATE of ``columns`` for one row, only if the row still holds the status it was read
    with: the rows are locked (:func:`_lock`), so it always does; were one ever written behind the
    lock, the batch fails and is retried rather than overwrite a state it never saw."""
    return (
        update(_messages)
        .where(_messages.c.id == bindparam("b_id"), _messages.c.status == bindparam("b_seen"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


def _apply(message: Tracked, report: DeliveryReport) -> bool:
    """Move ``message`` on by ``report``; whether its status changed (a late report never moves it back)."""
    if not message.provider_message_id or message.status == "sending":
        message.provider = report.provider
        message.provider_message_id = message.provider_message_id or report.provider_message_id
        message.sent_at = message.sent_at or report.occurred_at
    if report.price_micros is not None:
        message.price_micros = report.price_micros
    new = "sent" if report.status == "queued" else report.status
    if RANK[new] <= RANK.get(message.status, 0):
        return False
    message.status = new
    if new == "delivered":  # the provider's clock may stamp it before our send was recorded: never before that
        stamped = _aware(report.occurred_at) or report.occurred_at
        message.delivered_at = max(stamped, _aware(message.sent_at) or stamped)
    if new in _FAILED:
        message.error_code = (report.provider_code or report.provider_status)[:40]
        message.error_reason = (report.description or report.provider_status)[:500]
    return True


def has_status_subscribers(session: Session) -> bool:
    """Whether any ``message.status`` webhook is wanted (skips per-message emits when none is)."""
    return bool(session.connection().scalar(_ANY_SUBSCRIBER))
