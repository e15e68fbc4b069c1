"""`relais demo load` gives the demo customers the order history of the most active Online Retail customers."""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from cli.demo import CLI_ACTOR, demo_contacts, demo_phones
from cli.demo_orders import RETAIL_FILE, load_demo_orders, week_shift
from contacts.models import Contact, Order
from contacts.orders import list_orders
from core import db
from core.settings import Settings
from eval.paths import shared_data_dir
from tests.helpers import skip_unless_ci

TODAY = date(2026, 11, 29)  # a Sunday
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _sample(folder: Path) -> Path:
    """Customers 101..110: customer 100+k has k invoices (two lines each, 2011-08-01 on, daily);
    customer 110 also has a credit note, which does not count as activity; one guest line."""
    rows = []
    for k in range(1, 11):
        for i in range(k):
            when = f"2011-08-{1 + i:02d} 1{i % 10}:15:00"
            rows += [f"{k}{i:02d},A{i},Item {i},2,{when},1.50,{100 + k}.0,United Kingdom",
                     f"{k}{i:02d},B{i},Other {i},1,{when},4.00,{100 + k}.0,United Kingdom"]  # fmt: skip
    rows += ["C999,A1,Item 1,-1,2011-08-31 09:00:00,1.50,110.0,United Kingdom",
             "998,A1,Item 1,5,2011-08-30 09:00:00,1.50,,United Kingdom"]  # fmt: skip
    path = folder / RETAIL_FILE
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(HEADER + "\n".join(rows) + "\n")
    return folder


def test_whole_weeks_up_to_yesterday() -> None:
    assert week_shift(date(2011, 8, 31), TODAY) == 5565  # 795 weeks: 2026-11-25, a Wednesday as 2011-08-31 was
    assert (date(2011, 8, 31) + timedelta(days=week_shift(date(2011, 8, 31), TODAY))).weekday() == 2
    assert week_shift(date(2026, 11, 28), TODAY) == 0


def test_the_most_active_customers_go_to_the_demo_contacts_once(runtime: Settings, tmp_path: Path) -> None:
    folder = _sample(tmp_path)
    demo_contacts()
    phones = demo_phones()
    loaded = load_demo_orders(phones, CLI_ACTOR, today=TODAY, data_dir=folder)
    expected = (10 + 1) + 9 + 8 + 7 + 6 + 5 + 4 + 3  # customer 110's credit note is an order too
    assert (loaded.customers, loaded.orders_created, loaded.rejected, loaded.skipped) == (8, expected, 0, "")
    with db.session_scope() as session:
        by_phone = {c.phone: c for c in session.scalars(select(Contact))}
        customers = [by_phone[p].attributes["customer_id"] for p in phones]
        assert customers == ["110", "109", "108", "107", "106", "105", "104", "103"]  # most invoices first
        first = list_orders(session, by_phone[phones[0]].id, limit=None)
        assert len(first) == 11 and first[0].order.external_id == "C999" and first[0].order.status == "cancelled"
        # the French shop's euros at 1 GBP = 1.15 EUR: 1.50 -> 1.73 (1.725 rounded half up), 4.00 -> 4.60
        assert first[0].order.currency == "EUR" and first[1].order.total_micros == 2 * 1_730_000 + 4_600_000
        newest = max(o.ordered_at for o in session.scalars(select(Order)))
        assert newest.date() == date(2026, 11, 25) and newest.hour == 9  # the week before TODAY, hours kept
    again = load_demo_orders(phones, CLI_ACTOR, today=TODAY + timedelta(days=3), data_dir=folder)
    assert (again.orders_created, again.orders_existing, again.customers) == (0, loaded.orders_created, 8)


def test_without_the_data_set_the_step_says_so(runtime: Settings, tmp_path: Path) -> None:
    demo_contacts()
    skipped = load_demo_orders(demo_phones(), CLI_ACTOR, data_dir=tmp_path)
    assert "not found" in skipped.skipped and skipped.orders_created == 0


def test_the_real_history_loads(runtime: Settings) -> None:
    if not (shared_data_dir() / RETAIL_FILE).exists():
        skip_unless_ci(f"the public Online Retail file is absent: {shared_data_dir() / RETAIL_FILE}")
    demo_contacts()
    loaded = load_demo_orders(demo_phones(), CLI_ACTOR, today=TODAY)
    assert loaded.customers == 8 and loaded.orders_created > 8 * 50 and loaded.rejected == 0
