"""The Online Retail loader hands over order times in the unit transactions.COLUMNS documents."""

from __future__ import annotations

from pathlib import Path

from intelligence.retail_data import load_online_retail
from intelligence.transactions import ORDERED_AT_DTYPE

FILE = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n")


def test_order_times_are_nanoseconds_whatever_pandas_reads(tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(FILE)
    frame = load_online_retail(path)
    assert ORDERED_AT_DTYPE == "datetime64[ns]" and str(frame["ordered_at"].dtype) == ORDERED_AT_DTYPE
    assert frame["customer_id"].tolist() == ["17850"]  # the guest line is dropped
    assert str(frame["ordered_at"].iloc[0]) == "2010-12-01 08:26:00"
