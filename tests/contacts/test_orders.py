"""Orders: recorded once per source and id, imported from files with rows handed back, erased with the contact."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.privacy import erase_person, export_person
from cli.main import app
from contacts import attributes as attrs
from contacts.merge import merge_contacts
from contacts.models import Order, OrderLine
from contacts.order_import import OrderImportOptions, import_orders, parse_time
from contacts.orders import LineIn, OrderIn, advance_status, list_orders, record_order, to_micros
from core import db
from core.audit import SYSTEM
from core.errors import NotFound, ValidationFailed
from core.settings import Settings
from intelligence import store
from intelligence.store import Score
from tests.contacts.helpers import create_contact, phone

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def _order(external_id: str = "1001", **changes: object) -> OrderIn:
    values: dict[str, object] = {
        "source": "api", "external_id": external_id, "ordered_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "currency": "EUR",
        "lines": (LineIn("SKU-1", "Lampe", 2, 19_900_000), LineIn("SKU-2", "Ampoule", 1, 4_500_000)),
    }  # fmt: skip
    values.update(changes)
    return OrderIn(**values)  # type: ignore[arg-type]


def _import(text: str, **options: Any) -> dict[str, Any]:
    with db.session_scope() as session:
        report = import_orders(session, io.BytesIO(text.encode()), OrderImportOptions(**options), filename="o.csv")
        return report.as_dict()


def _customers(ids: dict[int, str], *, segmentable: bool = True) -> dict[str, int]:
    """Contacts numbered n holding the customer id ``ids[n]``; returns customer id → contact id."""
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=segmentable)
        attrs.define(session, name="email", type="string")
        return {cid: create_contact(session, n, attributes={"customer_id": cid, "email": f"c{n}@example.com"}).id
                for n, cid in ids.items()}  # fmt: skip


def test_money_and_times() -> None:
    assert to_micros("2.55") == 2_550_000 and to_micros(199) == 199_000_000 and to_micros("0.0000005") == 0
    with pytest.raises(ValueError):
        to_micros("abc")
    assert parse_time("2011-12-09 12:50:00") == datetime(2011, 12, 9, 12, 50)
    assert parse_time("12/9/2011 12:50") == datetime(2011, 12, 9, 12, 50)  # Online Retail's UCI form
    assert parse_time("12/9/2011 12:50", day_first=True) == datetime(2011, 9, 12, 12, 50)
    assert parse_time("2024-01-05 10:00:00 +0100").utcoffset() is not None
    with pytest.raises(ValueError):
        parse_time("31/12/2011 08:00")  # month first by default: no 31st month


def test_recording_an_order_twice_finds_the_first(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        first = record_order(session, contact_id=contact.id, order=_order())
        again = record_order(session, contact_id=contact.id, order=_order(currency="USD", lines=()))
        assert first.created and not again.created and again.order.id == first.order.id
        assert first.order.total_micros == 2 * 19_900_000 + 4_500_000 and again.order.currency == "EUR"
        record_order(session, contact_id=contact.id, order=_order(source="shopify"))  # another source: another order
        views = list_orders(session, contact.id)
        assert sorted(v.order.source for v in views) == ["api", "shopify"]
        assert [(line.product_id, line.quantity) for line in views[0].lines] == [("SKU-1", 2), ("SKU-2", 1)]
        with pytest.raises(ValidationFailed) as bad:
            record_order(session, contact_id=contact.id, order=_order("x", status="shipped",
                                                                      lines=(LineIn("a", "b", 0, -1),)))
        assert {e["field"] for e in bad.value.errors} == {"status", "lines.0.quantity", "lines.0.unit_price"}
        with pytest.raises(ValidationFailed) as huge:  # beyond what the columns hold: refused, not a 500
            record_order(session, contact_id=contact.id, order=_order("z", lines=(LineIn("a", "b", 10**7, 1),)))
        assert [e["field"] for e in huge.value.errors] == ["lines.0.quantity"]
        with pytest.raises(NotFound):
            record_order(session, contact_id=contact.id + 99, order=_order("y"))


def test_status_only_moves_forward(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        order = record_order(session, contact_id=contact.id, order=_order(status="open")).order
        assert advance_status(session, order, "paid") and order.status == "paid"
        assert not advance_status(session, order, "open") and order.status == "paid"
        moment = datetime(2026, 3, 2, tzinfo=UTC)
        assert advance_status(session, order, "cancelled", at=moment) and order.cancelled_at == moment
        assert not advance_status(session, order, "paid") and order.status == "cancelled"


def test_import_matches_customers_and_hands_back_bad_rows(runtime_any_db: Settings) -> None:
    ids = _customers({1: "17850", 2: "13047"})
    with db.session_scope() as session:
        by_phone = create_contact(session, 3).id
    text = HEADER + (
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"  # row 2
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"  # row 3
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,13047.0,United Kingdom\n"  # row 4
        "536367,22633,HAND WARMER,x,2010-12-01 08:30:00,1.85,13047.0,United Kingdom\n"  # row 5: bad quantity
        "536367,22632,HAND WARMER RED,2,2010-12-01 08:30:00,1.85,13047.0,United Kingdom\n"  # row 6: same order
        "536368,22632,HAND WARMER RED,2,2010-12-01 08:31:00,1.85,99999.0,United Kingdom\n"  # row 7: unknown
        "536369,22632,HAND WARMER RED,2,2010-12-01 08:32:00,1.85,,United Kingdom\n"  # row 8: guest
        "C536370,85123A,WHITE HANGING HEART,-2,2010-12-02 10:00:00,2.55,17850,United Kingdom\n"  # row 9: credit note
        "536365,22633,HAND WARMER,1,2010-12-01 08:26:00,1.85,17850.0,United Kingdom\n"  # row 10: apart from 536365
        "536371,22633,HAND WARMER,1e12,2010-12-03 08:26:00,1.85,17850.0,United Kingdom\n"  # row 11: too many
    )
    report = _import(text, currency="GBP")
    assert (report["rows"], report["orders_created"], report["lines"]) == (10, 3, 4)
    rejected = {(e["row"], e["code"]) for e in report["errors"]}
    assert rejected == {(5, "bad_quantity"), (6, "order_incomplete"), (7, "unknown_customer"), (8, "no_customer"),
                        (10, "order_split"), (11, "bad_quantity")}  # fmt: skip
    assert report["unknown_customers"] == 1 and report["error_count"] == 6
    with db.session_scope() as session:
        first = list_orders(session, ids["17850"])
        assert [(v.order.external_id, v.order.status, v.order.total_micros) for v in first] == [
            ("C536370", "cancelled", -5_100_000), ("536365", "paid", 6 * 2_550_000 + 6 * 3_390_000)]
        assert first[1].order.currency == "GBP" and first[1].order.country == "United Kingdom"
        assert first[1].order.ordered_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    # the same file again: nothing new; the fixed rows complete their order; phone and e-mail match too
    assert _import(text, currency="GBP")["orders_existing"] == 3
    fixed = (
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Email,Phone\n"
        "536367,22633,6,2010-12-01 08:30:00,1.85,C2@EXAMPLE.COM,\n"
        "536367,22632,2,2010-12-01 08:30:00,1.85,C2@example.com,\n"
        f"900,1,1,2010-12-03 08:30:00,1,,{phone(3)}\n"
    )
    report = _import(fixed)
    assert (report["orders_created"], report["error_count"], report["lines"]) == (2, 0, 3)
    with db.session_scope() as session:
        assert [v.order.external_id for v in list_orders(session, ids["13047"])] == ["536367", "536366"]
        assert [v.order.external_id for v in list_orders(session, by_phone)] == ["900"]


def test_a_date_impossible_either_way_is_its_rows_problem_not_the_files(runtime_any_db: Settings) -> None:
    """13/45/2010 reads neither day first nor month first; it counted as both, and the whole file was refused "the
    dates are written both day first (row 3) and month first (row 3)". Only that row is handed back now, and a
    typo past 31 (45/12/2010) no longer turns a month-first file day first."""
    _customers({1: "17850"})
    text = HEADER + (
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"  # row 2
        "536366,22633,HAND WARMER,6,13/45/2010 8:28,1.85,17850,United Kingdom\n"  # row 3: no date at all
        "536367,22633,HAND WARMER,6,45/12/2010 8:30,1.85,17850,United Kingdom\n"  # row 4: a typo
        "536368,22632,HAND WARMER RED,2,12/13/2010 8:31,1.85,17850,United Kingdom\n"  # row 5: month first
    )
    report = _import(text, currency="GBP")
    assert report["orders_created"] == 2 and {(e["row"], e["code"]) for e in report["errors"]} == {
        (3, "bad_date"), (4, "bad_date")}  # fmt: skip
    assert report["day_first"] is False


def test_customer_id_attribute_kept_encrypted_is_matched_too(runtime_any_db: Settings) -> None:
    ids = _customers({1: "17850"}, segmentable=False)
    report = _import(HEADER + "1,A,a,1,2011-01-01 10:00:00,1.00,17850.0,France\n")
    assert report["orders_created"] == 1
    with db.session_scope() as session:
        assert len(list_orders(session, ids["17850"])) == 1


def test_dry_run_writes_nothing_and_mapping_fixes_headers(runtime_any_db: Settings) -> None:
    _customers({1: "A-1"})
    text = "Ref commande;Quand;Article;Nb;PU;Client\nX1;31/12/2011 10:00;Lampe;1;19,90;A-1\n"
    mapping = {"Ref commande": "order_id", "Quand": "ordered_at", "Article": "description", "Nb": "quantity",
               "PU": "unit_price", "Client": "customer_id"}  # fmt: skip
    report = _import(text, mapping=mapping, day_first=True, dry_run=True, currency="EUR")
    assert (report["orders_created"], report["lines"], report["dry_run"]) == (1, 1, True)
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert _import(text, mapping=mapping, day_first=True, currency="EUR")["orders_created"] == 1
    with db.session_scope() as session:
        assert session.scalar(select(Order.total_micros)) == 19_900_000
    with pytest.raises(ValidationFailed) as missing:
        _import("Order,Date\n1,2011-01-01\n")
    messages = {e["message"] for e in missing.value.errors}
    assert "no column maps to quantity" in messages and any("who the customer is" in m for m in messages)


def test_erasure_deletes_orders_and_predictions_and_export_lists_them(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        other = create_contact(session, 2)
        record_order(session, contact_id=contact.id, order=_order("a"))
        record_order(session, contact_id=other.id, order=_order("b"))
        model = store.register_version(session, kind="churn_risk", version="v1")
        store.write_predictions(session, model, [Score(contact.id, 0.4), Score(other.id, 0.6)])
        exported = export_person(session, contact, actor=SYSTEM)
        assert [o["external_id"] for o in exported["orders"]] == ["a"]
        assert exported["orders"][0]["lines"][0]["description"] == "Lampe"
        predictions = [(p["kind"], p["value"], p["model_version"]) for p in exported["predictions"]]
        assert predictions == [("churn_risk", 0.4, "v1")]
        counts = erase_person(session, contact, actor=SYSTEM)
        assert (counts["orders"], counts["predictions"]) == (1, 1)
        assert store.current(session, contact.id) == {} and store.current(session, other.id)["churn_risk"].value == 0.6
    with db.session_scope() as session:
        assert list(session.scalars(select(Order.external_id))) == ["b"]
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 2


def test_cli_import_writes_the_rejected_rows(runtime: Settings, tmp_path: Path) -> None:
    _customers({1: "17850"})
    source = tmp_path / "retail.csv"
    source.write_text(HEADER + "1,A,Lamp,2,2011-01-01 10:00:00,1.50,17850,France\n"
                      "2,B,=HYPERLINK(1),-3,2011-01-02 10:00:00,x,17850,France\n"
                      "3,C,Vase,1,2011-01-03 10:00:00,2,404,France\n")  # fmt: skip
    runner = CliRunner()
    done = runner.invoke(app, ["orders", "import", str(source), "--currency", "EUR"])
    assert done.exit_code == 0, done.output
    assert "1 order created (1 line)" in done.output and "2 rows rejected" in done.output
    rows = list(csv.reader((tmp_path / "retail.rejected.csv").open(encoding="utf-8-sig")))
    assert rows[0] == ["row", "reason", *HEADER.strip().split(",")]
    assert [r[0] for r in rows[1:]] == ["3", "4"]
    assert rows[1][1] == "UnitPrice: not an amount such as 2.55 or 2,55"
    assert (rows[1][4], rows[1][5]) == ("'=HYPERLINK(1)", "-3")  # a formula neutralised, a signed number kept
    assert rows[2][1].startswith("CustomerID: no contact has this customer id")
    again = runner.invoke(app, ["orders", "import", str(source), "--currency", "EUR", "--dry-run"])
    assert "0 orders created" in again.output and "1 already known" in again.output
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_merge_moves_the_orders_to_the_kept_contact(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        target, source = create_contact(session, 1), create_contact(session, 2)
        record_order(session, contact_id=target.id, order=_order("t"))
        record_order(session, contact_id=source.id, order=_order("s"))
        moved = merge_contacts(session, target=target, source=source)
        assert moved["orders"] == 1
        assert sorted(v.order.external_id for v in list_orders(session, target.id)) == ["s", "t"]
