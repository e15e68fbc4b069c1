"""Synthetic purchase histories with a known signal, in the canonical table and the Online Retail format.

Half the customers are regulars: an order every ~2 weeks, at 09:00 or 15:00 (one customer in
two each), mostly their three favourite products. The others lapse: one to three orders at 12:00
in the first two months, then nothing. A model that learned anything ranks regulars first and
gives each their own hour, which no single hour for everyone can match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2011-01-03")
DAYS = 240
REGULAR_HOURS, LAPSED_HOUR = (9, 15), 12


def synthetic_lines(customers: int = 200, seed: int = 0) -> pd.DataFrame:
    """Canonical order lines; customer ids ``1000 + i`` (even i: regular, odd: lapsed)."""
    rng = np.random.default_rng(seed)
    rows = []
    invoice = 500000
    for i in range(customers):
        regular = i % 2 == 0
        country = "France" if i % 5 == 0 else "United Kingdom"
        favourites = [f"{'A' if regular else 'B'}{(i + k) % 12:02d}" for k in range(3)]
        day = float(rng.uniform(0, 20))
        orders = 0
        while day < DAYS and (regular or orders < 1 + i % 3):
            invoice += 1
            at = START + pd.Timedelta(days=int(day), hours=REGULAR_HOURS[i // 2 % 2] if regular else LAPSED_HOUR,
                                      minutes=int(rng.integers(0, 50)))
            products = [*rng.choice(favourites, size=2, replace=False), f"P{int(rng.integers(0, 30)):02d}"]
            for product in products:
                rows.append((str(1000 + i), str(invoice), at, product, f"item {product}",
                             int(rng.integers(1, 12)) * (3 if regular else 1), 2.5, country))
            if regular and orders == 2:  # one cancelled line
                rows.append((str(1000 + i), f"C{invoice}", at + pd.Timedelta(hours=1), products[0], "item", -1, 2.5,
                             country))
            orders += 1
            day += float(rng.exponential(14.0)) + 1 if regular else float(rng.uniform(10, 25))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ordered_at", "product_id", "description",
                                        "quantity", "unit_price", "country"])
    return frame.sort_values("ordered_at", kind="stable").reset_index(drop=True)


def write_online_retail(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as an Online Retail CSV (CustomerID a float, as in the UCI file)."""
    pd.DataFrame({
        "InvoiceNo": frame["order_id"], "StockCode": frame["product_id"], "Description": frame["description"],
        "Quantity": frame["quantity"], "InvoiceDate": frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "UnitPrice": frame["unit_price"], "CustomerID": frame["customer_id"].astype(float), "Country": frame["country"],
    }).to_csv(path, index=False)
    return path
