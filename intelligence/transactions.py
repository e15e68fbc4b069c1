"""The one table of order lines every model of this package learns from.

The evaluation suites build it from public files (UCI Online Retail), the product from the
orders table; both hand the models a ``pandas.DataFrame`` with exactly :data:`COLUMNS`, so a
model never knows where its data came from.
"""

from __future__ import annotations

import pandas as pd

#: customer_id: str — the customer (a contact id in the product, CustomerID in Online Retail)
#: order_id: str — the invoice; a line of a cancelled order has a negative quantity
#: ordered_at: datetime64[ns] (:data:`ORDERED_AT_DTYPE`) — when the order was placed, naive UTC
#: product_id: str — the product (StockCode)
#: description: str — the product's name, for people
#: quantity: int — units on the line (negative for a cancellation)
#: unit_price: float — price of one unit, in the shop's currency
#: country: str — the customer's country as the shop recorded it
COLUMNS: tuple[str, ...] = (
    "customer_id",
    "order_id",
    "ordered_at",
    "product_id",
    "description",
    "quantity",
    "unit_price",
    "country",
)
#: Every loader converts to this unit: pandas reads a date column of a file as microseconds and a
#: database's as nanoseconds, and two tables of the same orders should compare equal.
ORDERED_AT_DTYPE = "datetime64[ns]"


def check(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly :data:`COLUMNS`, in order; raises ``ValueError`` naming missing ones."""
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"order lines lack the column(s): {', '.join(missing)}")
    return frame.loc[:, list(COLUMNS)]
