"""Shopify's 'Refunded Amount': money given back on an imported order takes the customer's net spend down, once."""

from __future__ import annotations

import io

from contacts import attributes as attrs
from contacts.order_import import OrderImportOptions, import_orders
from core import db
from core.settings import Settings
from intelligence.history import order_lines
from tests.contacts.helpers import create_contact

HEADER = (
    "Name,Email,Financial Status,Currency,Created at,Lineitem quantity,Lineitem name,Lineitem price,Refunded Amount\n"
)
ORDERS = HEADER + (
    "#2001,a@example.com,paid,EUR,2025-10-07 09:50:26 +0200,2,Bougie,20.00,0.00\n"  # 40 spent
    "#2002,a@example.com,partially_refunded,EUR,2025-10-08 10:00:00 +0200,1,Plaid,60.00,15.00\n"  # 60, 15 back
    "#2002,,,,2025-10-08 10:00:00 +0200,1,Savon,5.00,\n"
    "#2003,a@example.com,refunded,EUR,2025-10-09 10:00:00 +0200,1,Lampe,30.00,30.00\n"  # all of it back
    "#2004,a@example.com,paid,EUR,2025-10-10 10:00:00 +0200,1,Vase,25.00,25.00\n"  # all back, status not updated
)


def _import(text: str) -> dict[str, object]:
    with db.session_scope() as session:
        return import_orders(session, io.BytesIO(text.encode()), OrderImportOptions(), filename="orders.csv").as_dict()


def _net_spend() -> float:
    with db.session_scope() as session:
        lines = order_lines(session)
    return float((lines["quantity"] * lines["unit_price"]).sum())


def test_a_refunded_amount_takes_net_spend_down_as_a_credit_note_once(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    report = _import(ORDERS)
    assert (report["orders_created"], report["refunds_created"], report["error_count"]) == (4, 1, 0), report
    # before, 'Refunded Amount' was not read: net spend 40 + 65 + (30 - 30) + 25 = 130, the 15 and 25 given back
    # still counted as spent
    assert _net_spend() == 40 + (65 - 15) + 0 + 0
    again = _import(ORDERS)
    assert (again["orders_created"], again["refunds_created"], again["orders_existing"]) == (0, 0, 4)
    assert _net_spend() == 90  # nothing given back twice


def test_a_refunded_amount_that_is_not_an_amount_hands_the_order_back(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    report = _import(HEADER + "#2001,a@example.com,paid,EUR,2025-10-07 09:50:26 +0200,2,Bougie,20.00,beaucoup\n")
    assert report["rejected_by_code"] == {"bad_refund": 1}
    assert report["errors"][0]["field"] == "Refunded Amount"


def test_an_order_refunded_in_part_then_cancelled_in_a_later_export_is_given_back_once(
    runtime_any_db: Settings,
) -> None:
    """A later export now cancels a known order (orders_updated); its earlier credit note is then no longer read:
    the cancellation gives back all of its 65, not 65 + 15."""
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        create_contact(session, 1, attributes={"email": "a@example.com"})
    _import(ORDERS)
    later = ORDERS.replace("#2002,a@example.com,partially_refunded", "#2002,a@example.com,refunded")
    report = _import(later)
    assert report["orders_updated"] == 1, report
    assert _net_spend() == 40 + 0 + 0 + 0
