"""The orders table as the canonical order lines the models learn from (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import io
import itertools
from datetime import UTC, datetime

import pandas as pd

from contacts import attributes as attrs
from contacts.order_import import OrderImportOptions, import_orders
from contacts.orders import LineIn, OrderIn, advance_status, record_order
from core import db
from core.settings import Settings
from eval.paths import shared_data_dir
from intelligence.history import order_lines
from intelligence.retail_data import SOURCE_DTYPES, from_online_retail
from intelligence.transactions import COLUMNS
from tests.contacts.helpers import create_contact
from tests.helpers import skip_unless_ci

RETAIL = shared_data_dir() / "online_retail" / "transactions_until_2011-08-31.csv.gz"
FILE = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "C536379,85123A,WHITE HANGING HEART,-1,2010-12-01 09:41:00,2.55,17850.0,United Kingdom\n"
    "536380,22961,JAM MAKING SET PRINTED,24,2010-12-02 09:41:00,1.45,12583.0,France\n"
)


def test_orders_become_the_canonical_lines(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="number", segmentable=True)
        uk = create_contact(session, 1, attributes={"customer_id": 17850}).id
        fr = create_contact(session, 2, attributes={"customer_id": 12583}).id
        report = import_orders(session, io.BytesIO(FILE.encode()), OrderImportOptions(currency="GBP"))
        assert report.orders_created == 3 and report.error_count == 0
        shop = record_order(session, contact_id=fr, order=OrderIn(
            source="shopify", external_id="77", ordered_at=datetime(2010, 12, 3, 10, 0, tzinfo=UTC),
            lines=(LineIn("LAMP", "Lamp", 2, 10_000_000),), status="paid")).order
        advance_status(session, shop, "cancelled", at=datetime(2010, 12, 4, 11, 30, tzinfo=UTC))
        ids = {"77": str(shop.id)}
    with db.session_scope() as session:
        frame = order_lines(session)
        later = order_lines(session, since=datetime(2010, 12, 2, tzinfo=UTC))
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["ordered_at"].dtype) == "datetime64[ns]" and frame["ordered_at"].dt.tz is None
    assert frame["customer_id"].tolist() == [str(uk)] * 3 + [str(fr)] * 3
    assert frame["quantity"].tolist() == [6, 6, -1, 24, 2, -2]
    assert frame["unit_price"].tolist() == [2.55, 3.39, 2.55, 1.45, 10.0, 10.0]
    assert frame["ordered_at"].iloc[2] == pd.Timestamp("2010-12-01 09:41:00")
    # the Shopify order cancelled a day later: the purchase, then its reversal under C<id> at cancelled_at
    assert frame["order_id"].iloc[-2:].tolist() == [ids["77"], "C" + ids["77"]]
    assert frame["ordered_at"].iloc[-1] == pd.Timestamp("2010-12-04 11:30:00")
    assert frame["country"].iloc[3] == "France" and frame["description"].iloc[0] == "WHITE HANGING HEART"
    assert len(later) == 3 and later["quantity"].tolist() == [24, 2, -2]


def test_no_orders_is_an_empty_table_with_the_columns(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        frame = order_lines(session)
    assert frame.empty and tuple(frame.columns) == COLUMNS


def test_imported_online_retail_reads_back_as_the_loader_reads_the_file(runtime_any_db: Settings) -> None:
    """Round trip: 600 lines of the real file through the order import and the orders table give the
    models what ``intelligence.retail_data`` gives them from the file (ids aside)."""
    if not RETAIL.exists():
        skip_unless_ci(f"the public Online Retail file is absent: {RETAIL}")
    with gzip.open(RETAIL, "rt", encoding="utf-8") as source:
        text = "".join(itertools.islice(source, 601))
    expected = from_online_retail(pd.read_csv(io.StringIO(text), dtype=SOURCE_DTYPES))
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        contact_of = {c: create_contact(session, n, attributes={"customer_id": c}).id
                      for n, c in enumerate(sorted(expected["customer_id"].unique()), start=1)}  # fmt: skip
        report = import_orders(session, io.BytesIO(text.encode()), OrderImportOptions(currency="GBP"))
        assert set(report.rejected_by_code) <= {"no_customer"}  # guests only
    with db.session_scope() as session:
        frame = order_lines(session)
    assert len(frame) == len(expected) > 400
    assert frame["customer_id"].tolist() == [str(contact_of[c]) for c in expected["customer_id"]]
    columns = ["ordered_at", "product_id", "description", "quantity", "unit_price", "country"]
    # the import trims cells, as every import does ('POPPY'S PLAYHOUSE BEDROOM ' in the file)
    expected = expected.assign(description=expected["description"].str.strip(),
                               product_id=expected["product_id"].str.strip())  # fmt: skip
    pd.testing.assert_frame_equal(frame[columns], expected[columns])
    # one order per invoice, credit notes included
    assert frame["order_id"].nunique() == expected["order_id"].nunique()
