"""Contacts' orders (purchase history): record idempotently, move their status on, list, erase.

Every way an order arrives — a file import (``contacts.order_import``), a Shopify webhook, the
API — goes through :func:`record_orders`. An order is known by its ``source`` and ``external_id``:
recording it again returns the first one untouched, so a re-imported file or a replayed webhook
never doubles a purchase. Status only moves forward (``open`` → ``paid`` → ``cancelled``), because
Shopify does not promise to deliver ``orders/create`` before ``orders/paid``.

Money is in integer micro-units (``2.55`` → ``2_550_000``); times are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contacts.models import ORDER_SOURCES, ORDER_STATUSES, Contact, Order, OrderLine
from contacts.order_customers import Customer, CustomerMatcher
from core.errors import NotFound, ValidationFailed

MICROS = Decimal(1_000_000)
MAX_LINES = 1000
MAX_QUANTITY = 1_000_000  # units on one line, either way
MAX_UNIT_PRICE_MICROS = 1_000_000 * 1_000_000  # a million in the shop's currency
MAX_TOTAL_MICROS = 2**63 - 1  # what the column holds


def to_micros(amount: object) -> int:
    """``"2.55"`` (or a number) as micro-units; raises ``ValueError`` for text that is not an amount."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    return int((value * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def as_utc(moment: datetime) -> datetime:
    """An aware time in UTC; a naive one is taken as UTC already (files rarely say)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class LineIn:
    """One product line; a negative quantity returns units (a credit note's lines)."""

    product_id: str
    description: str
    quantity: int
    unit_price_micros: int


@dataclass(frozen=True)
class OrderIn:
    """An order to record. ``total_micros`` ``None`` means the sum of the lines."""

    source: str
    external_id: str
    ordered_at: datetime
    lines: tuple[LineIn, ...] = ()
    currency: str = ""
    status: str = "paid"
    total_micros: int | None = None
    cancelled_at: datetime | None = None
    country: str = ""

    def total(self) -> int:
        if self.total_micros is not None:
            return self.total_micros
        return sum(line.quantity * line.unit_price_micros for line in self.lines)


@dataclass(frozen=True)
class Recorded:
    order: Order
    created: bool  # False: the order was already known (same source and external id)


@dataclass
class OrderView:
    """An order with its lines, for the API and exports."""

    order: Order
    lines: list[OrderLine] = field(default_factory=list)


def check(order: OrderIn) -> None:
    """Refuse what no shop would send; ``ValidationFailed`` names the field.

    The import checks rows itself (to report spreadsheet rows); this guards every other way in.
    """
    errors = []
    if order.source not in ORDER_SOURCES:
        errors.append({"field": "source", "message": f"must be one of {', '.join(ORDER_SOURCES)}"})
    if order.status not in ORDER_STATUSES:
        errors.append({"field": "status", "message": f"must be one of {', '.join(ORDER_STATUSES)}"})
    if not order.external_id.strip() or len(order.external_id) > 64:
        errors.append({"field": "external_id", "message": "1 to 64 characters"})
    if order.currency and (len(order.currency) != 3 or not order.currency.isalpha()):
        errors.append({"field": "currency", "message": "an ISO 4217 code such as EUR"})
    if len(order.lines) > MAX_LINES:
        errors.append({"field": "lines", "message": f"at most {MAX_LINES} lines"})
    for i, line in enumerate(order.lines):
        if line.quantity == 0 or abs(line.quantity) > MAX_QUANTITY:
            errors.append({"field": f"lines.{i}.quantity", "message": f"not 0, at most {MAX_QUANTITY:,} either way"})
        if not 0 <= line.unit_price_micros <= MAX_UNIT_PRICE_MICROS:
            errors.append({"field": f"lines.{i}.unit_price", "message": "from 0 to a million"})
    if abs(order.total()) > MAX_TOTAL_MICROS:
        errors.append({"field": "total", "message": "too large"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _new_order(contact_id: int, order: OrderIn) -> Order:
    cancelled_at = order.cancelled_at or (order.ordered_at if order.status == "cancelled" else None)
    return Order(
        contact_id=contact_id,
        source=order.source,
        external_id=order.external_id.strip(),
        ordered_at=as_utc(order.ordered_at),
        currency=order.currency.upper(),
        total_micros=order.total(),
        status=order.status,
        cancelled_at=as_utc(cancelled_at) if cancelled_at else None,
        country=order.country[:64],
    )


def _line_rows(pairs: Sequence[tuple[Order, OrderIn]]) -> list[dict[str, object]]:
    return [
        {"order_id": row.id, "product_id": line.product_id[:64], "description": line.description[:500],
         "quantity": line.quantity, "unit_price_micros": line.unit_price_micros}
        for row, order in pairs for line in order.lines
    ]  # fmt: skip


def find_order(session: Session, *, source: str, external_id: str) -> Order | None:
    return session.scalar(select(Order).where(Order.source == source, Order.external_id == external_id.strip()))


def known_orders(session: Session, source: str, external_ids: Iterable[str]) -> dict[str, Order]:
    """The orders of ``source`` already recorded under these external ids, by external id."""
    wanted = sorted({key.strip() for key in external_ids})
    found: dict[str, Order] = {}
    for start in range(0, len(wanted), 500):
        query = select(Order).where(Order.source == source, Order.external_id.in_(wanted[start : start + 500]))
        found.update((row.external_id, row) for row in session.scalars(query))
    return found


def record_orders(session: Session, items: Sequence[tuple[int, OrderIn]]) -> list[Recorded]:
    """Record a batch of ``(contact_id, order)`` in one round of queries; known orders come back untouched.

    Orders are not :func:`check`-ed here (the import checks its rows; :func:`record_order` checks).
    An external id repeated inside ``items`` is recorded once (the first wins).
    """
    by_source: dict[str, set[str]] = {}
    for _, order in items:
        by_source.setdefault(order.source, set()).add(order.external_id.strip())
    known: dict[tuple[str, str], Order] = {}
    for source, external_ids in by_source.items():
        known.update(((source, key), row) for key, row in known_orders(session, source, external_ids).items())
    results: list[Recorded] = []
    fresh: list[tuple[Order, OrderIn]] = []
    for contact_id, order in items:
        key = (order.source, order.external_id.strip())
        if key in known:
            results.append(Recorded(known[key], created=False))
            continue
        row = _new_order(contact_id, order)
        known[key] = row
        fresh.append((row, order))
        results.append(Recorded(row, created=True))
    if fresh:
        session.add_all([row for row, _ in fresh])
        session.flush()
        lines = _line_rows(fresh)
        if lines:
            session.execute(insert(cast(Table, OrderLine.__table__)), lines)  # core: no ORM bookkeeping per line
    return results


def record_order(session: Session, *, contact_id: int, order: OrderIn) -> Recorded:
    """Record one order for a contact (checked; the same source and external id → the same order).

    Safe against the same order arriving twice at once (two webhook deliveries): the one
    committed first is returned.

    Raises:
        ValidationFailed: a field no order may have (named). NotFound: no such contact, or erased.
    """
    check(order)
    contact = session.get(Contact, contact_id)
    if contact is None or contact.erased:
        raise NotFound(f"contact {contact_id} not found")
    try:
        with session.begin_nested():
            return record_orders(session, [(contact_id, order)])[0]
    except IntegrityError:
        found = find_order(session, source=order.source, external_id=order.external_id)
        if found is None:
            raise
        return Recorded(found, created=False)


def contact_for(session: Session, customer: Customer, *, region: str | None) -> int | None:
    """The contact a single order's ``customer`` names, by customer id or phone (never a scan of
    every contact, so e-mail addresses do not match here; file imports match them)."""
    return CustomerMatcher(session, region=region, scan=False).find(customer)


def record_customer_order(session: Session, *, customer: Customer, order: OrderIn, region: str | None) -> Recorded:
    """Record one order for the contact ``customer`` names (see :func:`contact_for`).

    Raises:
        NotFound: no contact matches. ValidationFailed: as :func:`record_order`.
    """
    contact_id = contact_for(session, customer, region=region)
    if contact_id is None:
        raise NotFound("no contact has this customer id or phone number")
    return record_order(session, contact_id=contact_id, order=order)


def record_or_advance(session: Session, *, contact_id: int, order: OrderIn) -> Recorded:
    """Record ``order``, or move the known one's status forward to ``order.status`` (shop webhooks:
    ``orders/paid`` or ``orders/cancelled`` may come before or after ``orders/create``)."""
    recorded = record_order(session, contact_id=contact_id, order=order)
    if not recorded.created:
        advance_status(session, recorded.order, order.status, at=order.cancelled_at)
    return recorded


def advance_status(session: Session, order: Order, status: str, *, at: datetime | None = None) -> bool:
    """Move ``order`` to ``status`` when that is forward (``open`` → ``paid`` → ``cancelled``).

    Returns whether it changed. A cancellation records ``at`` (the order's time when not given).

    Raises:
        ValidationFailed: an unknown status.
    """
    if status not in ORDER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(ORDER_STATUSES)}", errors=[{"field": "status"}])
    if not moves_forward(order.status, status):
        return False
    order.status = status
    if status == "cancelled":
        order.cancelled_at = as_utc(at) if at else order.ordered_at
    session.flush()
    return True


def moves_forward(current: str, status: str) -> bool:
    """Whether ``status`` is after ``current`` (``open`` → ``paid`` → ``cancelled``): an order never moves back,
    so a late ``orders/paid`` webhook or an older export cannot revive a cancelled order."""
    return ORDER_STATUSES.index(status) > ORDER_STATUSES.index(current)


def list_orders(session: Session, contact_id: int, *, limit: int | None = 50, offset: int = 0) -> list[OrderView]:
    """A contact's orders, newest first, with their lines (``limit=None``: all of them)."""
    query = select(Order).where(Order.contact_id == contact_id).order_by(Order.ordered_at.desc(), Order.id.desc())
    return with_lines(session, list(session.scalars(query.offset(offset).limit(limit))))


def with_lines(session: Session, orders: Sequence[Order]) -> list[OrderView]:
    """``orders`` with their lines, in the same order."""
    views = {order.id: OrderView(order) for order in orders}
    if views:
        for line in session.scalars(select(OrderLine).where(OrderLine.order_id.in_(views)).order_by(OrderLine.id)):
            views[line.order_id].lines.append(line)
    return list(views.values())


def erase_orders(session: Session, contact_id: int) -> int:
    """Delete a contact's orders and their lines (erasure); returns how many orders went."""
    ids = select(Order.id).where(Order.contact_id == contact_id).scalar_subquery()
    session.execute(delete(OrderLine).where(OrderLine.order_id.in_(ids)).execution_options(synchronize_session=False))
    result = session.execute(
        delete(Order).where(Order.contact_id == contact_id).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
