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
