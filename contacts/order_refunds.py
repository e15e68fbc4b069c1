"""An amount refunded on an imported order (Shopify export's ``Refunded Amount``), stored as Online Retail does.

Online Retail records money given back as a credit note: an invoice ``C<number>`` whose lines are negative,
which every model reads as a cancellation and which takes the customer's net spend down. A refund read from an
order file is stored the same way, so the order history means one thing whatever file it came from:

* nothing refunded, or an order already cancelled (``refunded`` / ``voided``: its lines are reversed at its
  cancellation, ``intelligence.history``): the order alone;
* the whole order refunded (the amount at least its total): the order, cancelled;
* part of it (``partially_refunded``): the order as paid, and a credit note ``C<order id>`` of one line, ``-1``
  × the amount refunded, at the order's time (the export does not say when the money went back).

A re-import finds both by their ids, so nothing is given back twice. A shop's refund webhooks (Shopify's
``refunds/create``: ``contacts.orders.record_refund``) follow the same rules, one credit note per refund
(``C<order id>-<refund id>``) at the time the money went back. An order cancelled after some of it was refunded
gives back all its lines at its cancellation (``intelligence.history``), so its credit notes are no longer read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contacts.models import Order
from contacts.orders import LineIn, OrderIn, advance_status, find_order, record_order

CREDIT_PREFIX = "C"  # Online Retail's: C536379 cancels 536379
REFUND_LINE = "Refund"


def credit_note_id(order_id: str, refund_id: str = "") -> str:
    """The credit note's order id for a refund on ``order_id``: ``C<order id>`` for the one refund an order file
    states, ``C<order id>-<refund id>`` for each of a shop's refund webhooks."""
    return f"{CREDIT_PREFIX}{order_id}-{refund_id}" if refund_id else f"{CREDIT_PREFIX}{order_id}"


def refunded_order_id(credit_id: str) -> str:
    """The order a credit note of :func:`credit_note_id` gives money back on ("" for another id)."""
    if not credit_id.startswith(CREDIT_PREFIX):
        return ""
    return credit_id[len(CREDIT_PREFIX):].rsplit("-", 1)[0] if "-" in credit_id else credit_id[len(CREDIT_PREFIX):]


def credit_note(order: OrderIn, refunded_micros: int, *, refund_id: str = "", at: datetime | None = None) -> OrderIn:
    """The credit note of ``refunded_micros`` given back on ``order``: one line, ``-1`` × the amount, at ``at``
    (the order's time when the source does not say when)."""
    return OrderIn(
        source=order.source, external_id=credit_note_id(order.external_id, refund_id),
        ordered_at=at or order.ordered_at,
        lines=(LineIn(product_id="", description=REFUND_LINE, quantity=-1, unit_price_micros=refunded_micros),),
        currency=order.currency, status="cancelled", country=order.country,
    )  # fmt: skip


def with_refund(order: OrderIn, refunded_micros: int) -> tuple[OrderIn, ...]:
    """``order`` as it stands once ``refunded_micros`` went back to the customer (see the module's rules)."""
    if refunded_micros <= 0 or order.status == "cancelled":
        return (order,)
    if refunded_micros >= order.total():
        return (replace(order, status="cancelled"),)
    return order, credit_note(order, refunded_micros)


@dataclass(frozen=True)
class RefundOutcome:
    """What a refund did to the order it names: ``credit_note`` (part refunded), ``cancelled`` (all of it, now),
    ``already_cancelled``, or ``unknown_order`` (no order of this source has the id)."""

    outcome: str
    order: Order | None = None
    credit: Order | None = None


def record_refund(session: Session, *, source: str, order_id: str, refund_id: str, refunded_micros: int,
                  at: datetime) -> RefundOutcome:
    """Money given back on a recorded order, as an order file's refund is (the module's rules): a credit note of
    this refund at ``at``, or, once this refund and the earlier ones reach the order's total, the order cancelled
    at ``at``. The same refund twice (a webhook delivered again) records one credit note."""
    order = find_order(session, source=source, external_id=order_id)
    if order is None:
        return RefundOutcome("unknown_order")
    if order.status == "cancelled":
        return RefundOutcome("already_cancelled", order)
    own = credit_note_id(order.external_id, refund_id)
    earlier = -int(session.scalar(
        select(func.coalesce(func.sum(Order.total_micros), 0)).where(
            Order.source == source, Order.external_id.like(credit_note_id(order.external_id, "%")),
            Order.external_id != own)) or 0)  # fmt: skip
    if earlier + refunded_micros >= order.total_micros > 0:
        advance_status(session, order, "cancelled", at=at)
        return RefundOutcome("cancelled", order)
    parent = OrderIn(source=source, external_id=order.external_id, ordered_at=order.ordered_at,
                     currency=order.currency, country=order.country)  # fmt: skip
    credit = record_order(session, contact_id=order.contact_id,
                          order=credit_note(parent, refunded_micros, refund_id=refund_id, at=at))  # fmt: skip
    return RefundOutcome("credit_note", order, credit.order)
