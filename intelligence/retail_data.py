"""Online Retail files (UCI, Chen, Sain & Guo 2012) as the canonical order-lines table.

The evaluation suites and the benchmark read the public file (or any file in its columns:
``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country``) and hand the
models :mod:`intelligence.transactions`' table, the same one the product builds from its orders
table. Guest lines (no ``CustomerID``) are dropped: every model here is per customer.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from intelligence.transactions import COLUMNS, ORDERED_AT_DTYPE, check

#: The Online Retail columns, with the dtypes read_csv gets up front (a 320k-line file loads in
#: about a second instead of letting pandas infer and re-infer object columns).
SOURCE_DTYPES: dict[str, str] = {
    "InvoiceNo": "string",
    "StockCode": "string",
    "Description": "string",
    "Quantity": "int32",
    "UnitPrice": "float64",
    "CustomerID": "float64",
    "Country": "string",
}
DATE_COLUMN = "InvoiceDate"
#: Stock codes of Online Retail lines that are not products (postage, carriage, fees, manual
#: adjustments, samples): never recommended.
NON_MERCHANDISE: frozenset[str] = frozenset(
    {"POST", "DOT", "C2", "M", "m", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"})


def load_online_retail(path: Path) -> pd.DataFrame:
    """Order lines of an Online Retail-format CSV (plain or ``.gz``) with :data:`COLUMNS`.

    Raises ``ValueError`` when a column of the format is missing, naming it.
    """
    header = pd.read_csv(path, nrows=0).columns
    missing = [c for c in (*SOURCE_DTYPES, DATE_COLUMN) if c not in header]
    if missing:
        raise ValueError(f"{path} is not in the Online Retail format: no column(s) {', '.join(missing)}")
    raw = pd.read_csv(path, dtype=SOURCE_DTYPES, usecols=[*SOURCE_DTYPES, DATE_COLUMN])
    return from_online_retail(raw)


def from_online_retail(raw: pd.DataFrame) -> pd.DataFrame:
    """The canonical table from Online Retail columns already in memory (guests dropped)."""
    raw = raw[raw["CustomerID"].notna()]
    frame = pd.DataFrame({
        "customer_id": raw["CustomerID"].astype("int64").astype(str),
        "order_id": raw["InvoiceNo"].astype(str),
        "ordered_at": pd.to_datetime(raw[DATE_COLUMN]).astype(ORDERED_AT_DTYPE),
        "product_id": raw["StockCode"].astype(str),
        "description": raw["Description"].fillna("").astype(str),
        "quantity": raw["Quantity"].astype("int64"),
        "unit_price": raw["UnitPrice"].astype("float64"),
        "country": raw["Country"].fillna("").astype(str),
    })
    return check(frame.sort_values("ordered_at", kind="stable").reset_index(drop=True))


def split_at(frame: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lines before ``cutoff`` (history) and from it on (what happened after)."""
    before = frame["ordered_at"] < cutoff
    return frame[before], frame[~before]


__all__ = ["COLUMNS", "NON_MERCHANDISE", "from_online_retail", "load_online_retail", "split_at"]
