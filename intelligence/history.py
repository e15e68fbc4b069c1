"""The orders table as :mod:`intelligence.transactions`' canonical order lines (customer = contact id).

The product's models learn from the deployment's own orders through this one function, exactly as
the evaluation suites learn from Online Retail through ``intelligence.retail_data``. Conventions
carried over so both look alike to a model:

* ``customer_id`` is the contact id as text, ``order_id`` the order's id as text.
* An order cancelled after it was placed (Shopify's ``orders/cancelled``: its lines are positive)
  is a purchase *and* a cancellation, as in Online Retail: its lines, then the same lines negated
  under ``C<order id>`` at ``cancelled_at``. A credit note (lines already negative) is one order.
* Times are naive UTC; ``unit_price`` is in the order's currency (one shop, one currency in
  practice: the table has no currency column, so a deployment selling in several mixes them).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Order, OrderLine
from intelligence.transactions import COLUMNS, ORDERED_AT_DTYPE, check

MICROS = 1_000_000


def order_lines(session: Session, *, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Every order line placed in ``[since, until)`` (both optional) as the canonical table, oldest first."""
    query = select(
        Order.contact_id, Order.id, Order.ordered_at, OrderLine.product_id, OrderLine.description,
        OrderLine.quantity, OrderLine.unit_price_micros, Order.country, Order.status, Order.cancelled_at,
    ).join(OrderLine, OrderLine.order_id == Order.id)  # fmt: skip
    if since is not None:
        query = query.where(Order.ordered_at >= since)
    if until is not None:
        query = query.where(Order.ordered_at < until)
    rows = session.execute(query.order_by(Order.ordered_at, Order.id, OrderLine.id)).all()
    names = [*COLUMNS, "status", "cancelled_at"]
    raw = pd.DataFrame.from_records(rows, columns=names)
    if raw.empty:
        return _typed(raw[list(COLUMNS)])
    raw["unit_price"] = raw["unit_price"] / MICROS
    reversed_ = raw[(raw["status"] == "cancelled") & (raw["quantity"] > 0) & raw["cancelled_at"].notna()].copy()
    reversed_["order_id"] = "C" + reversed_["order_id"].astype(str)
    reversed_["ordered_at"] = reversed_["cancelled_at"]
    reversed_["quantity"] = -reversed_["quantity"]
    frame = pd.concat([raw, reversed_], ignore_index=True)[list(COLUMNS)]
    return _typed(frame).sort_values("ordered_at", kind="stable").reset_index(drop=True)


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
