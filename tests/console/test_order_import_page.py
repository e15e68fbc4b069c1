"""The order history import in the console: a marketer uploads a messy Shopify export (a title row, French dates
that read both ways, prices with commas, a refund), answers which way the dates go, imports it as a job, reads
the report and queues the scoring; the same file again adds nothing. Agents and analysts have no such page."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import select

from contacts import attributes as attrs
from contacts.models import Order
from core import db
from core.models import AuditEntry
from tests.console import browser as tools
from tests.console import import_steps as steps
from tests.console.helpers import create_console_user, log_in
from tests.contacts.helpers import create_contact
from tests.helpers import run_jobs

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}
PAGE = "/console/order-imports"
#: as a French shop's Excel saves Shopify's export: a title row, ';', decimal commas, dates re-typed day first
#: (every one of them 12 or less: they read both ways), order-level cells on each order's first row only
SHOPIFY_FR = (
    "Export des commandes – Maison Lumière – janvier 2024;;;;;;;;;;;\r\n"
    "Name;Email;Financial Status;Currency;Total;Created at;Lineitem quantity;Lineitem name;Lineitem price;"
    "Lineitem sku;Refunded Amount;Phone\r\n"
    "#1001;a@example.com;paid;EUR;88,80;05/01/2024 10:12;2;Bougie figue;34,90;BGF;0,00;\r\n"
    "#1001;;;;;05/01/2024 10:12;1;Crème mains;19,00;CRM;;\r\n"
    "#1002;;partially_refunded;EUR;60,00;07/01/2024 18:40;1;Plaid laine;60,00;PLD;15,00;06 00 00 00 02\r\n"
    "#1003;;paid;EUR;12,00;08/01/2024 09:00;1;Savon;12,00;SAV;;\r\n"
    "#1004;inconnu@example.com;paid;EUR;20,00;09/01/2024 11:30;1;Bougie;20,00;BG;;\r\n"
).encode("utf-8-sig")


def _customers() -> tuple[int, int]:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        first = create_contact(session, 1, attributes={"email": "a@example.com"}).id
        second = create_contact(session, 2).id  # +33600000002, written 06 00 00 00 02 in the file
    return first, second


def _marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _file() -> dict[str, tuple[str, io.BytesIO, str]]:
    return {"file": ("orders_export_1.csv", io.BytesIO(SHOPIFY_FR), "text/csv")}


def _orders() -> dict[str, tuple[int, str, int]]:
    with db.session_scope() as session:
        return {o.external_id: (o.contact_id, o.ordered_at.strftime("%Y-%m-%d"), o.total_micros)
                for o in session.scalars(select(Order))}  # fmt: skip


def test_a_marketer_previews_answers_the_dates_imports_and_reimports(app_client: TestClient) -> None:
    first, second = _customers()
    headers = _marketer(app_client)
    page = app_client.get("/console/order-imports", headers=HTML)
    assert page.status_code == 200 and "Import the order history" in page.text
    assert app_client.post("/console/order-imports/upload", files=_file(), headers=HTMX).status_code == 403  # CSRF

    asked = steps.upload(app_client, PAGE, _file(), headers)
    assert 'id="order-dates-question"' in asked and "order-import-start" not in asked  # no guess
    assert "The column names are on row 2" in asked
    refund_column = asked.split('data-column="Refunded Amount"')[1].split("</select>")[0]
    assert '<option value="refunded" selected>' in refund_column
    draft = steps.draft_id(asked)

    shown = steps.choose(app_client, PAGE, draft, {"day_first": "day"}, headers)
    assert 'id="order-dates-question"' not in shown and 'id="order-import-start"' in shown
    assert 'data-field="ordered_at">05 Jan 2024 10:12<' in shown  # not 1 May
    assert 'id="preview-orders-new">2<' in shown and 'id="preview-refunds">1<' in shown
    assert 'id="preview-customers">2<' in shown and 'id="preview-rejected">2<' in shown
    assert 'data-row="6" data-status="rejected"' in shown and "guest orders" in shown
    assert _orders() == {}  # the preview wrote nothing

    started = app_client.post("/console/order-imports", data={**steps.form(shown), "day_first": "day"},
                              headers=headers)  # fmt: skip
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.text, started.text
    import_id = started.text.split('hx-get="/console/order-imports/', 1)[1].split('"', 1)[0]
    run_jobs()
    on_page = {**HTMX, "HX-Current-URL": "http://testserver/console/order-imports"}
    report = app_client.get(f"/console/order-imports/{import_id}", headers=on_page)
    assert 'data-status="succeeded"' in report.text and 'hx-trigger="every 1s"' not in report.text
    # the list under it is redrawn: it read "No order import yet." under the report
    assert 'hx-swap-oob="true"' in report.text and f'href="/console/order-imports/{import_id}"' in report.text
    # the rows name the file's customer columns: they read "customer_id", a column the file does not have
    assert "Row 6: Email / Phone: no customer id, phone or e-mail" in report.text
    assert 'id="report-orders-created">2<' in report.text and 'id="report-refunds">1<' in report.text
    assert 'id="report-customers">2<' in report.text and 'id="report-rejected">2<' in report.text
    assert "1 row: no contact has this customer" in report.text and "(1 customer here)" in report.text
    assert _orders() == {"#1001": (first, "2024-01-05", 88_800_000), "#1002": (second, "2024-01-07", 60_000_000),
                         "C#1002": (second, "2024-01-07", -15_000_000)}  # fmt: skip
    rejected = app_client.get(f"/console/order-imports/{import_id}/rejected.csv")
    assert rejected.status_code == 200 and [line.split(",", 1)[0] for line in rejected.text.splitlines()] == [
        "row", "6", "7"]  # fmt: skip
    assert app_client.get(f"/console/imports/{import_id}", headers=HTMX).status_code == 404  # not a contact import
    assert app_client.get(f"/api/v1/contacts/imports/{import_id}").status_code == 404

    again_shown = steps.upload(app_client, PAGE, _file(), headers, data={"day_first": "day"})
    again = app_client.post("/console/order-imports", data={**steps.form(again_shown), "day_first": "day"},
                            headers=headers)  # fmt: skip
    again_id = again.text.split('hx-get="/console/order-imports/', 1)[1].split('"', 1)[0]
    run_jobs()
    second_report = app_client.get(f"/console/order-imports/{again_id}", headers=HTML)
    assert 'id="report-orders-created">0<' in second_report.text
    assert 'id="report-orders-existing">2<' in second_report.text and 'id="report-refunds">0<' in second_report.text
    assert len(_orders()) == 3
    listed = app_client.get("/console/order-imports", headers=HTML).text
    assert f'href="/console/order-imports/{again_id}"' in listed and "0 orders added, 2 already there" in listed
    with db.session_scope() as session:
        actions = [a for a in session.scalars(select(AuditEntry.action)) if a.startswith("orders.")]
    assert actions.count("orders.import.start") == 2 and actions.count("orders.import") == 2

    scored = app_client.post("/console/order-imports/score", headers=headers)
    assert scored.status_code == 200 and 'id="score-queued"' in scored.text
    with db.session_scope() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "intelligence.score")) is not None


def test_a_file_of_unknown_columns_is_mapped_in_the_page(app_client: TestClient) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        create_contact(session, 1, attributes={"customer_id": "C1"})
    headers = _marketer(app_client)
    data = "Réf;Jour;Client;Nb;PU\nF-1;2024-01-05 10:00;C1;3;2,50\n".encode()

    first = steps.upload(app_client, PAGE, {"file": ("ventes.csv", io.BytesIO(data), "text/csv")}, headers)
    assert 'id="order-preview-problem"' in first and "no column maps to order_id" in first
    assert "order-import-start" not in first and "not checked yet" in first
    mapping = {"Réf": "order_id", "Jour": "ordered_at", "Client": "customer_id", "Nb": "quantity", "PU": "unit_price"}
    chosen = steps.choose(app_client, PAGE, steps.draft_id(first),
                          {"column": list(mapping), "target": list(mapping.values())}, headers)  # fmt: skip
    assert 'id="order-preview-problem"' not in chosen and 'id="preview-orders-new">1<' in chosen
    assert '<option value="quantity" selected>' in chosen.split('data-column="Nb"')[1].split("</select>")[0]
    assert 'data-field="unit_price">2,50<' in chosen and 'id="order-currency"' in chosen  # no currency column


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_only_marketers_and_admins_import_orders(app_client: TestClient, role: str) -> None:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    csrf = log_in(app_client, f"{role}@example.com", secret)
    page = app_client.get("/console/order-imports", headers=HTML)
    assert page.status_code == 403 and "This page is not part of your role" in page.text
    posted = app_client.post("/console/order-imports", files=_file(), headers={**HTMX, "X-CSRF-Token": csrf})
    assert posted.status_code == 403


def test_the_contact_page_without_predictions_links_the_order_import(app_client: TestClient) -> None:
    first, _ = _customers()
    _marketer(app_client)
    page = app_client.get(f"/console/contacts/{first}", headers=HTML).text
    assert 'href="/console/order-imports"' in page.split('id="no-prediction"', 1)[1].split("</p>", 1)[0]
    assert 'href="/console/order-imports"' in app_client.get("/console/contacts", headers=HTML).text


@pytest.mark.browser
def test_a_messy_shopify_export_is_imported_from_the_browser(live_server: str, page: Page) -> None:
    _customers()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/contacts")
    page.get_by_role("link", name="Import orders").click()
    expect(page.get_by_role("heading", name="Import the order history")).to_be_visible()
    upload: FilePayload = {"name": "orders_export_1.csv", "mimeType": "text/csv", "buffer": SHOPIFY_FR}
    page.set_input_files("#order-import-file", files=[upload])
    expect(page.locator("#order-dates-question")).to_be_visible(timeout=30_000)
    expect(page.locator("#order-import-start")).to_have_count(0)
    expect(page.locator("#order-import-preview .file-note")).to_contain_text("The column names are on row 2")
    page.get_by_label("Dates written").select_option("day")
    expect(page.locator('#order-preview-rows tr[data-row="3"] [data-field="ordered_at"]')).to_have_text(
        "05 Jan 2024 10:12"
    )
    expect(page.locator("#preview-refunds")).to_have_text("1")
    assert tools.serious_violations(page) == []
    tools.fits(page)

    page.get_by_role("button", name="Import the orders (2 new)").click()
    expect(page.locator("#order-import-progress")).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("#report-orders-created")).to_have_text("2")
    expect(page.locator("#report-refunds")).to_have_text("1")
    expect(page.locator("#report-reasons")).to_contain_text("1 row: guest orders")
    expect(page.locator("#report-next")).to_contain_text("daily scoring")
    page.get_by_role("button", name="Score now").click()
    expect(page.locator("#score-queued")).to_contain_text("Scoring")
    assert tools.serious_violations(page) == []
    tools.fits(page)
