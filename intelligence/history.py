"""The orders table as :mod:`intelligence.transactions`' canonical order lines (customer = contact id).

The product's models learn from the deployment's own orders through this one function, exactly as
the evaluation suites learn from Online Retail through ``intelligence.retail_data``. Conventions
carried over so both look alike to a model:

* ``customer_id`` is the contact id as text, ``order_id`` the order's id as text.
* An order cancelled after it was placed (Shopify's ``orders/cancelled``: its lines are positive)
  is a purchase *and* a cancellation, as in Online Retail: its lines, then the same lines negated
  under ``C<order id>`` at ``cancelled_at``. A credit note (lines already negative) is one order; a refund's credit
  note (``contacts.order_refunds``) on an order cancelled since is left out, the cancellation giving it all back.
* Times are naive UTC; ``unit_price`` is in the order's currency (one shop, one currency in
  practice: the table has no currency column, so a deployment selling in several mixes them).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Order, OrderLine
from contacts.order_refunds import CREDIT_PREFIX, refunded_order_id
from intelligence.transactions import COLUMNS, ORDERED_AT_DTYPE, check

MICROS = 1_000_000


def order_lines(session: Session, *, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Every order line placed in ``[since, until)`` (both optional) as the canonical table, oldest first."""
    query = select(
        Order.contact_id, Order.id, Order.ordered_at, OrderLine.product_id, OrderLine.description,
        OrderLine.quantity, OrderLine.unit_price_micros, Order.country, Order.status, Order.cancelled_at,
        Order.source, Order.external_id,
    ).join(OrderLine, OrderLine.order_id == Order.id)  # fmt: skip
    if since is not None:
        query = query.where(Order.ordered_at >= since)
    if until is not None:
        query = query.where(Order.ordered_at < until)
    rows = session.execute(query.order_by(Order.ordered_at, Order.id, OrderLine.id)).all()
    names = [*COLUMNS, "status", "cancelled_at", "source", "external_id"]
    raw = pd.DataFrame.from_records(rows, columns=names)
    if raw.empty:
        return _typed(raw[list(COLUMNS)])
    raw = raw[~_refunds_of_cancelled(session, raw)]
    raw["unit_price"] = raw["unit_price"] / MICROS
    reversed_ = raw[(raw["status"] == "cancelled") & (raw["quantity"] > 0) & raw["cancelled_at"].notna()].copy()
    reversed_["order_id"] = "C" + reversed_["order_id"].astype(str)
    reversed_["ordered_at"] = reversed_["cancelled_at"]
    reversed_["quantity"] = -reversed_["quantity"]
    frame = pd.concat([raw, reversed_], ignore_index=True)[list(COLUMNS)]
    return _typed(frame).sort_values("ordered_at", kind="stable").reset_index(drop=True)


def _refunds_of_cancelled(session: Session, raw: pd.DataFrame) -> pd.Series:
    """The rows of refund credit notes (``contacts.order_refunds``) whose order was cancelled since: the cancellation
    gives all its lines back, so money refunded before it would otherwise be given back twice."""
    credit = (raw["quantity"] < 0) & raw["external_id"].str.startswith(CREDIT_PREFIX)
    parents = pd.Series(list(zip(raw["source"], raw["external_id"].map(refunded_order_id), strict=True)),
                        index=raw.index)[credit]  # fmt: skip
    if parents.empty:
        return credit
    wanted = sorted({external for _, external in parents})
    cancelled: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), 500):
        query = select(Order.source, Order.external_id).where(
            Order.status == "cancelled", Order.external_id.in_(wanted[start : start + 500]))
        cancelled.update((source, external) for source, external in session.execute(query))
    refunded = parents[[key in cancelled for key in parents]]
    return credit & raw.index.isin(refunded.index)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical dtypes (naive UTC times, text ids), whatever the database driver returned."""
    times = pd.to_datetime(frame["ordered_at"], utc=True).dt.tz_localize(None)
    typed = frame.assign(
        customer_id=frame["customer_id"].astype(str),
        order_id=frame["order_id"].astype(str),
        ordered_at=times.astype(ORDERED_AT_DTYPE),
        product_id=frame["product_id"].astype(str),
        description=frame["description"].astype(str),
        quantity=frame["quantity"].astype("int64"),
        unit_price=frame["unit_price"].astype("float64"),
        country=frame["country"].astype(str),
    )
    return check(typed)
