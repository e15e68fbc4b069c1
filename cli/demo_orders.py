"""The demo shop's order history: real purchases from UCI Online Retail, mapped onto the demo customers.

So predictions, the planner and reports have something real to show, ``relais demo load`` gives
each demo contact the history of one Online Retail customer: the N customers with the most
invoices (ties: the lower CustomerID) onto the N demo contacts in ``contacts.csv`` order, through
the contact attribute ``customer_id`` and the ordinary order import (``contacts.order_import``).
Dates move by whole weeks (weekdays and hours stay true) so the history ends in the week before
today. Maison Lumière is a French shop that charges in euros, so prices are converted from the
data set's pounds at one fixed, stated rate (``GBP_TO_EUR``: 1 GBP = 1.15 EUR, about the pound's
2011 average, when the orders were placed) and the orders are recorded in EUR, the currency of the
SMS prices (``RELAIS_SMS_PRICE_CURRENCY``'s default): a forecast's return on cost then compares
one currency, as in a real shop's history, without RELAIS_EXCHANGE_RATES. Without the data set
(``RELAIS_SHARED_DATA``, else ``../shared/data``) the step says so and is skipped. Running it again
changes nothing: contacts keep their customer, orders are known by their invoice number.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from contacts import attributes as attrs
from contacts import service as contacts
from contacts.order_customers import CUSTOMER_ID_ATTRIBUTE, customer_key
from contacts.order_import import OrderImportOptions, import_orders
from core import audit, db
from core.audit import Actor
from eval.paths import shared_data_dir

RETAIL_FILE = Path("online_retail") / "transactions_until_2011-08-31.csv.gz"
SHOP_CURRENCY = "EUR"
GBP_TO_EUR = Decimal("1.15")  # stated in docs/intelligence.md ("The demo's order history")


@dataclass(frozen=True)
class DemoOrders:
    """What the step did; ``skipped`` says why when it could not run."""

    customers: int = 0
    orders_created: int = 0
    orders_existing: int = 0
    lines: int = 0
    rejected: int = 0
    shift_days: int = 0
    skipped: str = ""


def most_active(lines: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` customers with the most invoices (credit notes left out), ties to the lower id."""
    invoices = lines[["CustomerID", "InvoiceNo"]].dropna().drop_duplicates()
    counts = invoices[~invoices["InvoiceNo"].str.startswith("C")]["CustomerID"].value_counts().reset_index()
    counts["id"] = counts["CustomerID"].map(lambda v: int(float(v)))
    ranked = counts.sort_values(["count", "id"], ascending=[False, True])
    return [customer_key(c) for c in ranked["CustomerID"].head(n)]


def week_shift(last: date, today: date) -> int:
    """Whole weeks of days that bring ``last`` to the latest day before ``today``."""
    return (today - timedelta(days=1) - last).days // 7 * 7


def in_shop_currency(price: str) -> str:
    """A unit price in pounds as the shop's euros, to the cent; a value that is not a number is left
    as it is, so the order import rejects it with its usual reason."""
    try:
        pounds = Decimal(price)
    except InvalidOperation:
        return price
    return str((pounds * GBP_TO_EUR).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _assign(phones: list[str], customers: list[str], actor: Actor) -> dict[str, int]:
    """Demo contact (by number) → Online Retail customer, kept when one was given before."""
    assigned: dict[str, int] = {}
    with db.session_scope() as session:
        if CUSTOMER_ID_ATTRIBUTE not in attrs.schema(session):
            definition = attrs.define(session, name=CUSTOMER_ID_ATTRIBUTE, type="string", segmentable=True,
                                      description="the shop's customer number (orders match on it)")  # fmt: skip
            audit.record(session, actor=actor, action="contact_attribute.define", target_type="contact_attribute",
                         target_id=definition.id, diff={"name": definition.name, "demo": True})  # fmt: skip
        taken = set()
        found = [contacts.find_by_phone(session, phone) for phone in phones]
        for contact in found:
            if contact is not None and (contact.attributes or {}).get(CUSTOMER_ID_ATTRIBUTE) is not None:
                taken.add(customer_key(contact.attributes[CUSTOMER_ID_ATTRIBUTE]))
        free = iter(c for c in customers if c not in taken)
        for contact in found:
            if contact is None or contact.erased:
                continue
            current = (contact.attributes or {}).get(CUSTOMER_ID_ATTRIBUTE)
            if current is None:
                current = next(free, None)
                if current is None:
                    continue
                diff = contacts.update(session, contact, {"attributes": {CUSTOMER_ID_ATTRIBUTE: current}})
                audit.record(session, actor=actor, action="contact.update", target_type="contact",
                             target_id=contact.id, diff=diff)  # fmt: skip
            assigned[customer_key(current)] = contact.id
    return assigned


def load_demo_orders(phones: list[str], actor: Actor, *, today: date | None = None,
                     data_dir: Path | None = None) -> DemoOrders:  # fmt: skip
    """Give the demo contacts numbered ``phones`` their Online Retail history (idempotent)."""
    path = (data_dir or shared_data_dir()) / RETAIL_FILE
    if not path.exists():
        return DemoOrders(skipped=f"{path} not found (set RELAIS_SHARED_DATA to the public data sets)")
    lines = pd.read_csv(path, dtype=str, keep_default_na=False, na_values={"CustomerID": [""]})
    assigned = _assign(phones, most_active(lines, len(phones)), actor)
    spelled = [raw for raw in lines["CustomerID"].dropna().unique() if customer_key(raw) in assigned]
    mine = lines[lines["CustomerID"].isin(spelled)].copy()
    times = pd.to_datetime(lines["InvoiceDate"], format="ISO8601")
    shift = week_shift(times.max().date(), today or date.today())
    mine["InvoiceDate"] = (times[mine.index] + pd.Timedelta(days=shift)).dt.strftime("%Y-%m-%d %H:%M:%S")
    mine["UnitPrice"] = mine["UnitPrice"].map(in_shop_currency)
    data = io.BytesIO(mine.to_csv(index=False).encode())
    with db.session_scope() as session:
        report = import_orders(session, data, OrderImportOptions(currency=SHOP_CURRENCY), filename=path.name,
                               actor=actor)
    return DemoOrders(customers=len(assigned), orders_created=report.orders_created,
                      orders_existing=report.orders_existing, lines=report.lines, rejected=report.error_count,
                      shift_days=shift)  # fmt: skip
