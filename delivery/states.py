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
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any, Protocol

import structlog
from sqlalchemy import Table, TextClause, Update, bindparam, exists, select, text, update
from sqlalchemy.orm import Session

from channels.base import DeliveryReport
from conversations import service
from conversations.models import Message, MessageProviderId
from core import webhooks
from core.models import WebhookSubscription
from core.sql import among

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


_WRITTEN = ("status", "provider", "provider_message_id", "sent_at", "price_micros", "delivered_at",
            "error_code", "error_reason")
_written_of = attrgetter(*_WRITTEN)
_TRACKED = select(*(_messages.c[f.name] for f in fields(Tracked)))


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

    The report job applies thousands a second during a campaign, so a batch costs a fixed number
    of statements whatever its size: the lookups by provider id (and part id or client-ref for the
    rest), one locked read of the columns a report touches, and one executemany UPDATE of the rows
    whose values changed. ``message.status`` events go out for each change, as reports arrive;
    whether anyone subscribes is asked once per batch, and only when a status moved.
    """
    session.flush()  # the caller's pending changes are what the reads below must see
    target = _targets(session, reports)
    rows = _lock(session, sorted(set(target.values())))
    seen = {message_id: row.written() for message_id, row in rows.items()}
    emit: bool | None = None
    matched: list[int | None] = []
    for report in reports:
        message_id = target.get(id(report))
        row = None if message_id is None else rows.get(message_id)
        if row is None:
            log.info("delivery report for an unknown message", provider=report.provider, ref=report.client_ref)
            matched.append(None)
            continue
        if _apply(row, report):
            if emit is None:
                emit = has_status_subscribers(session)
            if emit:
                webhooks.emit(session, "message.status", status_event(row))
        matched.append(row.id)
    _write(session, [row for message_id, row in rows.items() if row.written() != seen[message_id]], seen)
    return matched


def _targets(session: Session, reports: Sequence[DeliveryReport]) -> dict[int, int]:
    """The outbound message id of each report (keyed by ``id(report)``): by provider id, by part id,
    else by client_ref, as :func:`conversations.service.find_for_report`."""
    by_provider: dict[str, set[str]] = defaultdict(set)
    for report in reports:
        by_provider[report.provider].add(report.provider_message_id)
    connection = session.connection()
    dialect = connection.dialect.name
    ids: dict[tuple[str, str], int] = {}
    for provider, provider_ids in by_provider.items():
        ids.update(((provider, str(pid)), mid) for mid, pid in connection.execute(
            select(_messages.c.id, _messages.c.provider_message_id).where(
                _messages.c.provider == provider, among(_messages.c.provider_message_id, provider_ids, dialect),
                _messages.c.direction == "out")))
        parts = [p for p in provider_ids if (provider, p) not in ids]
        if parts:
            ids.update(((provider, pid), mid) for mid, pid in connection.execute(
                select(_provider_ids.c.message_id, _provider_ids.c.provider_message_id).where(
                    _provider_ids.c.provider == provider,
                    among(_provider_ids.c.provider_message_id, parts, dialect))))
    chosen = {id(r): ids.get((r.provider, r.provider_message_id)) or service.message_id_from_ref(r.client_ref)
              for r in reports}
    return {key: message_id for key, message_id in chosen.items() if message_id is not None}


def _lock(session: Session, message_ids: list[int]) -> dict[int, Tracked]:
    """The outbound rows of ``message_ids``, locked until the transaction ends so nothing changes
    them between this read and :func:`_write`.

    PostgreSQL: row locks taken in id order, so two batches (or a batch and a send being recorded,
    :func:`delivery.store.record_sent`, which updates in id order too) never deadlock. SQLite has
    no row locks: the database's write lock is taken before the read instead (pysqlite would take
    it only at the first write, after the read, so a writer in between would be overwritten).
    """
    if not message_ids:
        return {}
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not getattr(connection.connection.dbapi_connection,
                                                           "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    found = connection.execute(
        _TRACKED.where(among(_messages.c.id, message_ids, connection.dialect.name), _messages.c.direction == "out")
        .order_by(_messages.c.id).with_for_update())
    return {row.id: row for row in (Tracked(*values) for values in found)}


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
        by_columns[columns].append({"b_id": row.id, "b_seen": before[0],
                                    **{f"b_{name}": getattr(row, name) for name in columns}})
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for columns, params in by_columns.items():
        if postgres:  # one statement for the batch, its values as arrays, not one UPDATE per row
            arrays: dict[str, list[Any]] = {"ids": [p["b_id"] for p in params], "seen": [p["b_seen"] for p in params]}
            for name in columns:
                bind = _messages.c[name].type.bind_processor(connection.dialect) or (lambda value: value)
                arrays[name] = [bind(p[f"b_{name}"]) for p in params]
            written = connection.execute(_update_from_arrays(columns), arrays).rowcount
        else:
            written = connection.execute(_update_of(columns), params).rowcount
        if written != len(params):
            raise StaleRead(f"{len(params) - written} of {len(params)} messages changed behind their row lock")
    for row in changed:
        instance = session.identity_map.get(session.identity_key(Message, row.id))
        if instance is not None:
            session.expire(instance)


#: PostgreSQL array types of the columns reports write
_ARRAY_TYPES = {"status": "TEXT", "provider": "TEXT", "provider_message_id": "TEXT", "sent_at": "TIMESTAMPTZ",
                "price_micros": "BIGINT", "delivered_at": "TIMESTAMPTZ", "error_code": "TEXT", "error_reason": "TEXT"}


@cache
def _update_from_arrays(columns: tuple[str, ...]) -> TextClause:
    """:func:`_update_of` for a whole batch on PostgreSQL: the rows joined to their new values
    unnested from one array per column, still only where the status is the one read."""
    arrays = ", ".join(f"CAST(:{name} AS {_ARRAY_TYPES[name]}[])" for name in columns)
    return text(
        f"UPDATE messages SET {', '.join(f'{name} = v.{name}' for name in columns)} "
        f"FROM unnest(CAST(:ids AS BIGINT[]), CAST(:seen AS TEXT[]), {arrays}) AS v(id, seen, {', '.join(columns)}) "
        "WHERE messages.id = v.id AND messages.status = v.seen"
    )


@cache
def _update_of(columns: tuple[str, ...]) -> Update:
    """The UPDATE of ``columns`` for one row, only if the row still holds the status it was read
    with: the rows are locked (:func:`_lock`), so it always does; were one ever written behind the
    lock, the batch fails and is retried rather than overwrite a state it never saw."""
    return (update(_messages)
            .where(_messages.c.id == bindparam("b_id"), _messages.c.status == bindparam("b_seen"))
            .values({name: bindparam(f"b_{name}") for name in columns}))


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
    if new == "delivered":
        message.delivered_at = report.occurred_at
    if new in _FAILED:
        message.error_code = (report.provider_code or report.provider_status)[:40]
        message.error_reason = (report.description or report.provider_status)[:500]
    return True


def has_status_subscribers(session: Session) -> bool:
    """Whether any ``message.status`` webhook is wanted (skips per-message emits when none is)."""
    return bool(session.connection().scalar(_ANY_SUBSCRIBER))
