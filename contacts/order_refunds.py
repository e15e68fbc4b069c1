"""An amount refunded on an imported order (Shopify export's ``Refunded Amount``), stored as Online Retail does.

Online Retail records money given back as a credit note: an invoice ``C<number>`` whose lines are negative,
which every model reads as a cancellation and which takes the customer's net spend down. A refund read from an
order file is stored the same way, so the order history means one thing whatever file it came from:

* nothing refunded, or an order already cancelled (``refunded`` / ``voided``: its lines are reversed at its
  cancellation, ``intelligence.history``): the order alone;
* the whole order refunded (the amount at least its total): the order, cancelled;
* part of it (``partially_refunded``): the order as paid, and a credit note ``C<order id>`` of one line, ``-1``
  × the amount refunded, at the order's time (the export does not say when the money went back).

A re-import finds both by their ids, so nothing is given back twice.
"""

from __future__ import annotations

from dataclasses import replace

from contacts.orders import LineIn, OrderIn

CREDIT_PREFIX = "C"  # Online Retail's: C536379 cancels 536379
REFUND_LINE = "Refund"


def credit_note_id(order_id: str) -> str:
    """The credit note's order id for a refund on ``order_id``."""
    return f"{CREDIT_PREFIX}{order_id}"


def with_refund(order: OrderIn, refunded_micros: int) -> tuple[OrderIn, ...]:
    """``order`` as it stands once ``refunded_micros`` went back to the customer (see the module's rules)."""
    if refunded_micros <= 0 or order.status == "cancelled":
        return (order,)
    if refunded_micros >= order.total():
        return (replace(order, status="cancelled"),)
    credit = OrderIn(
        source=order.source, external_id=credit_note_id(order.external_id), ordered_at=order.ordered_at,
        lines=(LineIn(product_id="", description=REFUND_LINE, quantity=-1, unit_price_micros=refunded_micros),),
        currency=order.currency, status="cancelled", country=order.country,
    )  # fmt: skip
    return order, credit
