"""Shopify's 'Cancelled at': an order cancelled after it was placed is no spend (it counted as bought)."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select

from contacts import attributes as attrs
from contacts.models import Order
from contacts.order_import import OrderImportOptions, import_orders
from core import db
from core.settings import Settings
from intelligence.history import order_lines
from tests.contacts.helpers import create_contact

#: Shopify's orders export: order-level cells on an order's first row only; #3002 cancelled the next day
ORDERS = (
    "Name,Email,Financial Status,Currency,Created at,Cancelled at,Lineitem quantity,Lineitem name,Lineitem price\n"
    "#3001,a@example.com,paid,EUR,2025-10-07 09:50:26 +0200,,2,Bougie,20.00\n"
    "#3002,a@example.com,paid,EUR,2025-10-08 10:00:00 +0200,2025-10-09 08:30:00 +0200,1,Plaid,60.00\n"
    "#3002,,,,,,1,Savon,5.00\n"
)


def _import(text: str) -> dict[str, Any]:
    with db.session_scope() as session:
        return import_orders(session, io.BytesIO(text.encode()), OrderImportOptions(), filename="orders.csv").as_dict()


def test_a_cancelled_order_of_a_shopify_export_is_no_spend(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    report = _import(ORDERS)
    assert (report["orders_created"], report["error_count"]) == (2, 0), report
    assert report["mapping"]["Cancelled at"] == "cancelled_at"
    with db.session_scope() as session:
        orders = {o.external_id: (o.status, o.cancelled_at) for o in session.scalars(select(Order))}
        lines = order_lines(session)
    assert orders["#3001"] == ("paid", None)
    status, cancelled_at = orders["#3002"]
    assert status == "cancelled" and cancelled_at is not None
    assert cancelled_at.strftime("%Y-%m-%d %H:%M") == "2025-10-09 06:30"  # UTC
    # before, 'Cancelled at' was not read: 40 + 65 spent, the cancelled 65 included
    assert float((lines["quantity"] * lines["unit_price"]).sum()) == 40
    assert _import(ORDERS)["orders_existing"] == 2


def test_a_cancelled_at_that_is_not_a_date_hands_the_order_back(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    report = _import(ORDERS.replace("2025-10-09 08:30:00 +0200", "hier"))
    assert report["rejected_by_code"] == {"bad_date": 2}, report  # the second row inherits the cell
    assert report["errors"][0]["field"] == "Cancelled at"


def test_a_later_export_cancels_an_order_imported_before_and_never_revives_one(runtime_any_db: Settings) -> None:
    """Before, a re-import counted every known order "already imported" and left it as it was: an order
    cancelled since the first export went on counting as spend."""
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    before = ORDERS.replace("2025-10-09 08:30:00 +0200", "")  # the export of the day #3002 was placed
    assert _import(before)["orders_created"] == 2

    with db.session_scope() as session:  # the preview counts it and writes nothing
        dry = import_orders(session, io.BytesIO(ORDERS.encode()), OrderImportOptions(dry_run=True),
                            filename="orders.csv").as_dict()  # fmt: skip
    assert (dry["orders_created"], dry["orders_updated"], dry["orders_existing"]) == (0, 1, 1), dry
    with db.session_scope() as session:
        assert session.scalar(select(Order.status).where(Order.external_id == "#3002")) == "paid"

    report = _import(ORDERS)
    assert (report["orders_created"], report["orders_updated"], report["orders_existing"]) == (0, 1, 1), report
    assert report["lines"] == 0  # the known order's lines are left as they were
    with db.session_scope() as session:
        order = session.scalars(select(Order).where(Order.external_id == "#3002")).one()
        assert order.status == "cancelled"
        assert order.cancelled_at is not None and order.cancelled_at.strftime("%Y-%m-%d %H:%M") == "2025-10-09 06:30"
        lines = order_lines(session)
    assert float((lines["quantity"] * lines["unit_price"]).sum()) == 40

    # an older export read again moves nothing back: the cancelled order stays cancelled
    again = _import(before)
    assert (again["orders_updated"], again["orders_existing"]) == (0, 2), again
    with db.session_scope() as session:
        assert session.scalar(select(Order.status).where(Order.external_id == "#3002")) == "cancelled"
