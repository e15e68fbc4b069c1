"""Orders over HTTP: file import (CSV and XLSX) with rows handed back, one order, a contact's orders, roles, audit."""

from __future__ import annotations

import io
import json
from datetime import datetime

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select

from core import db
from core.models import AuditEntry
from tests.helpers import auth_headers

ONLINE_RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,13047.0,United Kingdom\n"
    "536367,22633,HAND WARMER,6,12/1/2010 8:30,-1.85,17850.0,United Kingdom\n"
)


def _setup(client: TestClient) -> tuple[dict[str, str], int]:
    headers = auth_headers("marketer")
    admin = auth_headers("admin")
    assert client.post("/api/v1/contacts/attributes", headers=admin,
                       json={"name": "customer_id", "type": "string", "segmentable": True}).status_code == 201
    contact = client.post("/api/v1/contacts", headers=headers,
                          json={"phone": "+33612345678", "attributes": {"customer_id": "17850"}})
    assert contact.status_code == 201, contact.text
    return headers, int(contact.json()["id"])


def test_import_a_csv_then_read_the_contacts_orders(app_client: TestClient) -> None:
    headers, contact_id = _setup(app_client)
    # 12/1/2010 is 1 December or 12 January: no date of these rows tells, so the person is asked
    unsure = app_client.post("/api/v1/orders/import?currency=gbp", headers={**headers, "Content-Type": "text/csv"},
                             content=ONLINE_RETAIL.encode())
    assert unsure.status_code == 422 and "no date in the file tells day from month" in unsure.json()["detail"]
    answer = app_client.post("/api/v1/orders/import?currency=gbp&day_first=false",
                             headers={**headers, "Content-Type": "text/csv"}, content=ONLINE_RETAIL.encode())
    assert answer.status_code == 200, answer.text
    assert answer.json()["date_order"] == "month first (12/31/2011)"
    report = answer.json()
    assert (report["orders_created"], report["lines"], report["unknown_customers"]) == (1, 1, 1)
    assert report["rejected_by_code"] == {"bad_price": 1, "unknown_customer": 1}
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "CustomerID"), (4, "UnitPrice")]
    orders = app_client.get(f"/api/v1/contacts/{contact_id}/orders", headers=headers).json()
    assert [(o["external_id"], o["currency"], o["total_micros"], o["ordered_at"][:16]) for o in orders] == [
        ("536365", "GBP", 15_300_000, "2010-12-01T08:26")]
    assert orders[0]["lines"] == [{"product_id": "85123A", "description": "WHITE HANGING HEART", "quantity": 6,
                                   "unit_price_micros": 2_550_000}]  # fmt: skip
    again = app_client.post("/api/v1/orders/import?day_first=false", headers={**headers, "Content-Type": "text/csv"},
                            content=ONLINE_RETAIL.encode()).json()
    assert (again["orders_created"], again["orders_existing"]) == (0, 1)
    with db.session_scope() as session:
        audits = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "orders.import"))]
    assert len(audits) == 2


def test_import_an_xlsx_with_a_mapping_and_a_dry_run(app_client: TestClient) -> None:
    headers, contact_id = _setup(app_client)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Commande", "Date", "Client", "Qté", "Prix"])
    sheet.append(["A-1", datetime(2026, 3, 1, 9, 30), 17850, 2, 19.9])
    buffer = io.BytesIO()
    book.save(buffer)
    files = {"file": ("orders.xlsx", buffer.getvalue(),
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    mapping = json.dumps({"Client": "customer_id", "Prix": "unit_price"})
    dry = app_client.post("/api/v1/orders/import?dry_run=true&currency=EUR", headers=headers, files=files,
                          data={"mapping": mapping}).json()
    assert (dry["orders_created"], dry["dry_run"]) == (1, True)
    assert app_client.get(f"/api/v1/contacts/{contact_id}/orders", headers=headers).json() == []
    done = app_client.post("/api/v1/orders/import?currency=EUR", headers=headers, files=files,
                           data={"mapping": mapping}).json()
    assert done["orders_created"] == 1 and done["mapping"]["Qté"] == "quantity"
    orders = app_client.get(f"/api/v1/contacts/{contact_id}/orders", headers=headers).json()
    assert orders[0]["total_micros"] == 39_800_000 and orders[0]["ordered_at"].startswith("2026-03-01T09:30")


def test_a_file_without_a_required_column_is_422(app_client: TestClient) -> None:
    headers, _ = _setup(app_client)
    answer = app_client.post("/api/v1/orders/import", headers={**headers, "Content-Type": "text/csv"},
                             content=b"InvoiceNo,CustomerID\n1,17850\n")
    assert answer.status_code == 422
    assert {"field": "mapping", "message": "no column maps to quantity"} in answer.json()["errors"]


def test_one_order_by_customer_id_or_contact_id(app_client: TestClient) -> None:
    headers, contact_id = _setup(app_client)
    body = {"external_id": "W-1", "customer": {"customer_id": "17850"}, "ordered_at": "2026-03-01T10:00:00+01:00",
            "currency": "eur", "lines": [{"product_id": "L1", "description": "Lampe", "quantity": 2,
                                          "unit_price": "19.90"}]}  # fmt: skip
    first = app_client.post("/api/v1/orders", headers=headers, json=body)
    assert first.status_code == 201, first.text
    order = first.json()
    assert (order["contact_id"], order["source"], order["currency"], order["total_micros"]) == (
        contact_id, "api", "EUR", 39_800_000)
    assert order["ordered_at"].startswith("2026-03-01T09:00")  # stored in UTC
    again = app_client.post("/api/v1/orders", headers=headers, json={**body, "currency": "USD"})
    assert again.status_code == 200 and again.json()["id"] == order["id"] and again.json()["currency"] == "EUR"
    by_id = {**body, "external_id": "W-2", "customer": None, "contact_id": contact_id}
    assert app_client.post("/api/v1/orders", headers=headers, json=by_id).status_code == 201
    unknown = {**body, "external_id": "W-3", "customer": {"phone": "+33699999999"}}
    assert app_client.post("/api/v1/orders", headers=headers, json=unknown).status_code == 404
    both = {**body, "contact_id": contact_id}
    assert app_client.post("/api/v1/orders", headers=headers, json=both).status_code == 422
    assert app_client.post("/api/v1/orders", headers=headers, json={**body, "surprise": 1}).status_code == 422
    assert app_client.post("/api/v1/orders", headers=auth_headers("agent"), json=body).status_code == 403
    assert app_client.get("/api/v1/contacts/999999/orders", headers=headers).status_code == 404
