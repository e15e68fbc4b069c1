"""Files as marketers export them: an Excel workbook with a title, a summary sheet and merged cells, a CSV with a
title line, Shopify's, Mailchimp's and HubSpot's contact exports, Shopify's orders export. Each through the API,
the worker or the CLI, as the person would: nothing silently lost or misread, row numbers the spreadsheet's."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from contacts import attributes as attrs
from contacts import import_jobs, import_runner
from contacts.file_limits import FileLimits
from contacts.import_preview import preview
from contacts.import_report import ImportOptions
from contacts.models import Contact
from contacts.order_import import OrderImportOptions, import_orders
from contacts.orders import list_orders
from contacts.service import find_by_phone
from contacts.service import find_by_phone as get_by_phone
from core import db
from core.audit import SYSTEM
from core.settings import Settings
from tests.contacts.helpers import create_contact
from tests.helpers import auth_headers, run_jobs


def _workbook() -> bytes:
    """A summary sheet first, a hidden lookup sheet, then the list under a merged title and a blank row; phones
    typed as numbers (the leading zero and the + gone, one in scientific notation); a consent answer merged over
    two rows; a totals row at the bottom."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Résumé"
    summary.append(["Clients", 3])
    hidden = book.create_sheet("Listes")
    hidden.append(["Téléphone", "Magasin"])
    hidden.append(["0600000000", "Lyon"])
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet("Clients")
    sheet.append(["Clients fidélité – export du 12/11/2026"])
    sheet.merge_cells("A1:D1")
    sheet.append([])
    sheet.append(["Nom", "Prénom", "Mobile", "Opt-in SMS"])
    sheet.append(["Dupont", "Jean", 612345678, "oui"])  # row 4
    sheet.append(["Martin", "Zoé", 33612345679, None])  # row 5: its consent is row 4's, merged over both
    sheet.merge_cells("D4:D5")
    sheet.append(["Durand", "Léa", 3.3612345680e10, "non"])  # row 6
    sheet.append(["Total", None, 3, None])  # row 7
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _consents() -> dict[str, str]:
    with db.session_scope() as session:
        return {c.first_name or "": c.consent_status for c in session.scalars(select(Contact))}


def test_an_excel_workbook_is_read_from_its_list_sheet_under_the_title_as_it_shows(app_client: TestClient) -> None:
    marketer = auth_headers("marketer")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    started = app_client.post("/api/v1/contacts/import", headers={**marketer, "Content-Type": xlsx},
                              content=_workbook())
    assert started.status_code == 202, started.text  # it was a 422: "no column maps to phone" (the summary sheet)
    run_jobs()
    done = app_client.get(started.json()["links"]["self"], headers=marketer).json()
    assert (done["status"], done["created"], done["rejected"], done["sheet"], done["header_row"]) == (
        "succeeded", 3, 1, "Clients", 3)
    assert done["notices"][:2] == [
        "Read the sheet “Clients”; the workbook's other sheets are not imported: “Résumé”, “Listes”.",
        "The column names are on row 3: rows 1 to 2 are above them (a title) and not imported.",
    ]
    assert [(e["row"], e["field"], e["code"]) for e in done["errors"]] == [(7, "Mobile", "totals_row")]
    assert _consents() == {"Jean": "opted_in", "Zoé": "opted_in", "Léa": "opted_out"}  # Zoé's was lost
    with db.session_scope() as session:
        assert all(get_by_phone(session, f"+3361234567{n}") is not None for n in (8, 9))
        assert get_by_phone(session, "+33612345680") is not None
    again = app_client.post("/api/v1/contacts/import", headers={**marketer, "Content-Type": xlsx},
                            content=_workbook())
    run_jobs()
    second = app_client.get(again.json()["links"]["self"], headers=marketer).json()
    assert (second["created"], second["updated"], second["unchanged"], second["rejected"]) == (0, 0, 3, 1)
    assert _consents() == {"Jean": "opted_in", "Zoé": "opted_in", "Léa": "opted_out"}


def test_a_value_merged_over_several_rows_is_read_on_each(runtime: Settings) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Téléphone", "Magasin", "Consentement"], ["0612345678", "Lyon", "oui"], ["0612345679"],
                ["0612345670", "Nice", "non"]):
        sheet.append(row)
    sheet.merge_cells("B2:B3")
    sheet.merge_cells("C2:C3")
    buffer = io.BytesIO()
    book.save(buffer)
    with db.session_scope() as session:
        shown = preview(session, io.BytesIO(buffer.getvalue()), filename="f.xlsx",
                        options=ImportOptions(region="FR"), limits=FileLimits())
    assert [r["cells"] for r in shown["rows"]] == [
        ["0612345678", "Lyon", "oui"], ["0612345679", "Lyon", "oui"], ["0612345670", "Nice", "non"]]
    assert [r["consent_text"] for r in shown["rows"]] == ["opt-in", "opt-in", "no marketing consent"]


def test_numbers_and_dates_as_french_and_german_excel_write_them(runtime: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="panier", type="number")
        attrs.define(session, name="naissance", type="date")
    text = ("Téléphone;Panier;Naissance\r\n"
            "0612345601;12,50;31/12/1980\r\n"  # row 2
            "0612345602;1 234,50 €;31.12.1980\r\n"  # row 3: a thousands space, a German date
            "0612345603;1.234,5;29586\r\n"  # row 4: the date as Excel's serial day (a General column)
            "0612345604;1,234;1980-12-31\r\n"  # row 5: a thousand or 1.234?
            "0612345605;3;12/31/1980\r\n")  # row 6: month first, in a day-first region
    with db.session_scope() as session:
        job = import_jobs.start(session, io.BytesIO(text.encode("cp1252")), filename="clients.csv",
                                options=ImportOptions(region="FR"), limits=FileLimits(), actor=SYSTEM, enqueue=False)
        import_id = job.id
    assert import_runner.run(import_id) == "succeeded"
    with db.session_scope() as session:
        job = import_jobs.get(session, import_id)
        assert (job.created, job.rejected) == (3, 2)  # every row was rejected: "not a valid number"
        refused = {(p.row, p.message) for p in import_jobs.problems(session, import_id, errors=True)}
    assert refused == {
        (5, "not a valid number for attribute panier: a comma then three digits: write 1234 for a thousand, "
            "1.234 for a decimal"),
        (6, "not a valid date for attribute naissance: not a date read day first (DD/MM/YYYY), as this "
            "deployment's region writes them: write it as YYYY-MM-DD")}
    with db.session_scope() as session:
        found = [find_by_phone(session, f"+3361234560{n}") for n in (1, 2, 3)]
        assert [(c.attributes["panier"], c.attributes["naissance"]) for c in found if c] == [
            (12.5, "1980-12-31"), (1234.5, "1980-12-31"), (1234.5, "1980-12-31")]


def test_slash_dates_follow_the_region_and_an_impossible_one_is_said() -> None:
    from contacts.attributes import BadAttributeValue
    from contacts.import_values import file_date, file_number

    assert file_date("12/31/1980", "US") == file_date("31/12/1980", "FR") == "1980-12-31"
    assert file_date("03/04/2025", "US") == "2025-03-04" and file_date("03/04/2025", "DE") == "2025-04-03"
    assert file_date("31.12.1980", "US") == "1980-12-31"  # dots are day first everywhere
    with pytest.raises(BadAttributeValue, match="month first"):
        file_date("31/12/1980", "US")
    assert [file_number(t) for t in ("1,234,567", "1,234.5", "-3,5", "12")] == ["1234567", "1234.5", "-3.5", "12"]


def _preview(text: str, *, encoding: str = "utf-8", filename: str = "export.csv") -> dict[str, Any]:
    with db.session_scope() as session:
        return preview(session, io.BytesIO(text.encode(encoding)), filename=filename,
                       options=ImportOptions(region="FR"), limits=FileLimits())


def _read(shown: dict[str, Any]) -> list[tuple[int, str, dict[str, str], str]]:
    return [(r["row"], r["status"], r["values"], r["consent_text"]) for r in shown["rows"]]


def test_a_csv_with_a_title_line_is_read_with_its_separator_from_its_header(runtime: Settings) -> None:
    text = ("Export clients du 12/11/2026\r\n"
            "Nom;Téléphone;Consentement;Panier moyen\r\n"
            "Lefèvre;06 12 34 56 78;oui;12,50\r\n"
            "Müller;06.12.34.56.79 ;non;8\r\n")
    shown = _preview(text, encoding="cp1252")
    assert (shown["delimiter"], shown["ready"]) == (";", True)  # it was read as comma-separated, not ready
    assert shown["header_row"] == 2
    assert shown["notes"] == ["The column names are on row 2: row 1 is above them (a title) and not imported."]
    assert [(row, status, consent) for row, status, _, consent in _read(shown)] == [
        (3, "ok", "opt-in"), (4, "ok", "no marketing consent")]


def test_shopify_customers_export_reads_sms_consent_and_the_address_country(runtime: Settings) -> None:
    text = ("First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address City,"
            "Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,"
            "Total Spent,Total Orders,Note,Tax Exempt,Tags\n"
            "Jean,Dupont,jean@example.com,yes,,Paris,FR,'75001,,+33612345678,no,10.00,1,,no,\"vip, newsletter\"\n"
            "Hans,Müller,hans@example.com,no,,Berlin,DE,'10115,,'+4915123456789,yes,0.00,0,,no,\n"
            "Ana,Silva,ana@example.com,no,,Lisboa,PT,,,912345678,yes,0.00,0,,no,\n")
    shown = _preview(text)
    mapped = {c["column"]: c["target"] for c in shown["columns"] if c["target"] != "ignore"}
    assert mapped == {"First Name": "first_name", "Last Name": "name", "Default Address Country Code": "country",
                      "Phone": "phone", "Accepts SMS Marketing": "consent", "Tags": "tags"}
    # the e-mail consent is not the SMS one; Ana's Portuguese mobile was read as a French VoIP number
    assert [(row, status, consent) for row, status, _, consent in _read(shown)] == [
        (2, "ok", "no marketing consent"), (3, "ok", "opt-in"), (4, "ok", "opt-in")]


def test_mailchimp_export_keeps_its_quoted_tags_and_reads_its_country_column(runtime: Settings) -> None:
    text = ('"Email Address","First Name","Last Name","Phone Number","MEMBER_RATING","OPTIN_TIME","TIMEZONE","CC",'
            '"LEID","TAGS"\n'
            '"a@example.com","Jean","Dupont","06 12 34 56 78","2","2024-01-05 10:00:00","","FR","123",'
            '"""VIP"",""Black Friday"""\n'
            '"b@example.com","Ana","Silva","912 345 678","2","2024-01-05 10:00:00","","PT","124",""\n')
    with db.session_scope() as session:
        report = import_csv(session, text)
    assert (report.created, report.error_count) == (2, 0)  # every tagged member was rejected: "bad tag"
    with db.session_scope() as session:
        jean, ana = get_by_phone(session, "+33612345678"), get_by_phone(session, "+351912345678")
        assert jean is not None and jean.tags == ["Black Friday", "VIP"]
        assert ana is not None and ana.line_type == "mobile"


def import_csv(session: Any, text: str) -> Any:
    from contacts.importer import import_file

    return import_file(session, io.BytesIO(text.encode()), ImportOptions(region="FR"), filename="export.csv")


def test_hubspot_export_reads_the_mobile_column_not_the_office_line(runtime: Settings, tmp_path: Path) -> None:
    people = tmp_path / "hubspot-crm-exports-all-contacts.csv"
    people.write_text('"Record ID","First Name","Last Name","Email","Phone Number","Mobile Phone Number",'
                      '"Lifecycle Stage","Create Date"\n'
                      '"101","Jean","Dupont","j@example.com","01 42 68 53 00","06 12 34 56 78","customer",'
                      '"2024-01-05 10:00"\n')
    done = CliRunner().invoke(app, ["contacts", "import", str(people)])
    assert done.exit_code == 0, done.output
    assert "landline" not in done.output  # the office line was imported: a contact nobody could text
    with db.session_scope() as session:
        jean = get_by_phone(session, "+33612345678")
        assert jean is not None and jean.line_type == "mobile"


def test_a_hubspot_row_without_a_mobile_reads_its_other_phone_number(runtime: Settings) -> None:
    """A contact whose number HubSpot holds under "Phone Number" only was rejected "the number is empty": the
    mobile column was read, and it was empty in that row. Its other phone column is read, with a warning saying so;
    a row with neither number is still rejected."""
    data = (b'"Record ID","First Name","Phone Number","Mobile Phone Number","SMS consent"\n'
            b'"101","Jules","01 42 68 53 00","06 12 34 56 78","Subscribed"\n'
            b'"102","George","+33 6 11 22 66 02","","Not subscribed"\n'
            b'"103","Victor","","",""\n')
    with db.session_scope() as session:
        shown = preview(session, io.BytesIO(data), filename="hubspot.csv", options=ImportOptions(region="FR"),
                        limits=FileLimits())
    rows = {r["row"]: r for r in shown["rows"]}
    assert rows[3]["status"] == "warning" and rows[3]["values"]["phone"] == "+33 6 11 22 66 02"
    assert [p["message"] for p in rows[3]["problems"]] == [
        "empty: the number is read from “Phone Number”, the row's other phone column"]
    assert rows[2]["values"]["phone"] == "06 12 34 56 78" and rows[2]["status"] == "ok"  # the mobile, not the office
    assert rows[4]["status"] == "rejected"
    with db.session_scope() as session:
        job = import_jobs.start(session, io.BytesIO(data), filename="hubspot.csv", limits=FileLimits(), actor=SYSTEM,
                                options=ImportOptions(region="FR", source_name="hubspot.csv"), enqueue=False)
        job_id = job.id
    import_runner.run(job_id)
    with db.session_scope() as session:
        done = import_jobs.get(session, job_id)
        george = get_by_phone(session, "+33611226602")
        assert (done.created, done.rejected) == (2, 1)
        assert george is not None and george.first_name == "George" and george.consent_status == "opted_out"


SHOPIFY_ORDERS = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Accepts Marketing,Currency,Subtotal,Total,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Phone,Refunded Amount,Id,Phone\n"
    "#1001,a@example.com,paid,2025-10-07 09:50:26 +0200,fulfilled,yes,EUR,53.90,53.90,2025-10-07 09:50:26 +0200,"
    "1,Masque,34.90,MSK-1,,0.00,7410991464714,\n"
    "#1001,a@example.com,,,,,,,,2025-10-07 09:50:26 +0200,1,Crème,19.00,CRM-1,,,,\n"
    "#1002,,pending,,unfulfilled,no,EUR,10.00,10.00,2025-10-08 10:00:00 +0200,2,Savon,5.00,SAV,,,7410991464715,"
    "+33600000002\n"
    "#1002,,,,,,,,,2025-10-08 10:00:00 +0200,1,Gant,0.00,GNT,,,,\n"
    "#1003,a@example.com,partially_refunded,2025-10-09 10:00:00 +0200,fulfilled,yes,EUR,10.00,10.00,"
    "2025-10-09 10:00:00 +0200,1,Savon,10.00,SAV,,5.00,7410991464716,\n"
)


def test_shopify_orders_export_reads_each_order_from_its_first_row(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")
        first = create_contact(session, 1, attributes={"email": "a@example.com"}).id
        second = create_contact(session, 2).id

    def run() -> dict[str, Any]:
        with db.session_scope() as session:
            report = import_orders(session, io.BytesIO(SHOPIFY_ORDERS.encode()), OrderImportOptions(region="FR"),
                                   filename="orders_export_1.csv")
            return report.as_dict()

    report = run()  # it was refused: "no column maps to order_id"; with the order named, its later lines' blank
    # e-mail and phone read "the rows of this order name different customers", and "partially_refunded" a bad status
    assert (report["orders_created"], report["lines"], report["error_count"]) == (3, 5, 0), report["errors"]
    assert report["mapping"]["Name"] == "order_id" and report["mapping"]["Created at"] == "ordered_at"
    with db.session_scope() as session:
        orders = {v.order.external_id: v.order for v in [*list_orders(session, first), *list_orders(session, second)]}
        assert {k: (o.status, o.currency, o.total_micros) for k, o in orders.items()} == {
            "#1001": ("paid", "EUR", 53_900_000), "#1002": ("open", "EUR", 10_000_000),
            "#1003": ("paid", "EUR", 10_000_000), "C#1003": ("cancelled", "EUR", -5_000_000)}  # 5.00 refunded
        assert orders["#1002"].contact_id == second
    assert (report["refunds_created"], report["customers"]) == (1, 2)
    again = run()
    assert (again["orders_existing"], again["orders_created"], again["refunds_created"]) == (3, 0, 0)


def test_a_french_order_file_reads_its_dates_day_first_and_its_prices_with_commas(
    runtime: Settings, tmp_path: Path
) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        contact = create_contact(session, 1, attributes={"customer_id": "A-1"}).id
    orders = tmp_path / "commandes.csv"
    orders.write_text("Export des commandes;;;;;\r\n"
                      "Commande;Date;Produit;Quantité;Prix unitaire;Client\r\n"
                      "1001;05/01/2024 10:00;Lampe;1;19,90 €;A-1\r\n"  # 5 January, read 1 May
                      "1002;13/01/2024 09:00;Abat-jour;2;1 234,50;A-1\r\n", encoding="cp1252")
    done = CliRunner().invoke(app, ["orders", "import", str(orders), "--currency", "EUR"])
    assert done.exit_code == 0, done.output
    assert "2 orders created" in done.output  # both rows were rejected: "not an amount such as 2.55"
    assert "dates read day first (31/12/2011): row 4's date can only be read that way" in done.output
    with db.session_scope() as session:
        found = {v.order.external_id: v.order for v in list_orders(session, contact)}
    assert (found["1001"].ordered_at.month, found["1001"].ordered_at.day) == (1, 5)
    assert (found["1001"].total_micros, found["1002"].total_micros) == (19_900_000, 2_469_000_000)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("Commande;Date;Quantité;Prix unitaire;Client\r\n1;13/01/2024;1;1;A-1\r\n2;01/13/2024;1;1;A-1\r\n")
    refused = CliRunner().invoke(app, ["orders", "import", str(mixed)])
    assert refused.exit_code == 1 and "both day first (row 2) and month first (row 3)" in refused.output


def test_google_contacts_and_a_crm_export_keep_their_header_stops_and_family_names(runtime: Settings) -> None:
    google = ("Name,Given Name,Additional Name,Family Name,Birthday,Notes,Group Membership,E-mail 1 - Type,"
              "E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n"
              "Jean Dupont,Jean,,Dupont,1980-12-31,,* myContacts,* Home,j@example.com,Mobile,06 12 34 56 78,,\n")
    shown = _preview(google)
    # a data cell reading "Mobile" was taken for the header, and the real header for a title above it
    assert (shown["header_row"], shown["notes"]) == (1, [])
    assert [r["values"] for r in shown["rows"]] == [
        {"name": "Dupont", "first_name": "Jean", "phone": "06 12 34 56 78"}]  # name was "Jean Dupont"
    crm = ("Téléphone;Consentement;Unsubscribed\n"
           "0612345678;N/A;yes\n"  # a STOP that was ignored; "N/A" rejected the row
           "06 12 34 56 79 / 06 98 76 54 32;oui;\n"  # "the number is too long"
           "6,12345678E+08;oui;\n")  # "the whole row is in one cell, separated by ','"
    rows = _preview(crm)["rows"]
    assert [(r["status"], r["consent_text"]) for r in rows[:1]] == [("ok", "opt-out (STOP): no texts at all")]
    assert [p["message"] for r in rows[1:] for p in r["problems"]] == [
        "two numbers in one cell: keep one per row (the mobile), or put the other in a row of its own",
        "the number was turned into scientific notation by a spreadsheet, which loses digits: format the column "
        "as text and export the file again"]


def test_numbers_kept_as_numbers_an_international_mobile_and_a_serial_order_date(runtime: Settings) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Mobile", "Prénom"], [4915123456789, "Hans"], [3222345678, "Luc"]):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with db.session_scope() as session:
        shown = preview(session, io.BytesIO(buffer.getvalue()), filename="f.xlsx",
                        options=ImportOptions(region="FR"), limits=FileLimits())
    hans, luc = shown["rows"]  # both were rejected "the number is too long"
    assert (hans["status"], [p["code"] for p in hans["problems"]]) == ("warning", ["plus_added"])
    assert hans["problems"][0]["message"] == ("read as +49, a number of DE: its + was missing (a spreadsheet keeps "
                                              "numbers as numbers)")
    assert luc["status"] == "rejected"  # +32 2 234 56 78 is a Brussels landline: not guessed
    with db.session_scope() as session:
        attrs.define(session, name="customer_id", type="string", segmentable=True)
        contact = create_contact(session, 1, attributes={"customer_id": "17850"}).id
    orders = Workbook()
    lines = orders.active
    assert lines is not None
    for row in (["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
                ["536365", "85123A", 6, 40513.35, 2.55, 17850]):  # 1 December 2010 08:24, a General cell
        lines.append(row)
    out = io.BytesIO()
    orders.save(out)
    with db.session_scope() as session:
        report = import_orders(session, io.BytesIO(out.getvalue()), OrderImportOptions(currency="GBP"),
                               filename="retail.xlsx")
        assert (report.orders_created, report.error_count) == (1, 0)  # it was bad_date
        (view,) = list_orders(session, contact)
        assert view.order.ordered_at.strftime("%Y-%m-%d %H:%M") == "2010-12-01 08:24"


def test_google_contacts_numbers_are_read_from_the_one_typed_mobile(runtime: Settings) -> None:
    google = ("Name,Given Name,Family Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n"
              "Jean Dupont,Jean,Dupont,Work,01 42 68 53 00,* Mobile,06 12 34 56 78\n"
              "Ana Silva,Ana,Silva,Mobile,06 12 34 56 79,Home,01 42 68 53 01\n"
              "Luc Petit,Luc,Petit,Home,01 42 68 53 02,,\n"
              "Eve Roux,Eve,Roux,Mobile,06 12 34 56 70 ::: 06 12 34 56 71,,\n")
    rows = _preview(google)["rows"]
    # Jean's office line was read: a landline nobody can text, his mobile beside it unread
    assert [(r["values"]["phone"], r["status"]) for r in rows] == [
        ("06 12 34 56 78", "ok"), ("06 12 34 56 79", "ok"), ("01 42 68 53 02", "warning"),
        ("06 12 34 56 70 ::: 06 12 34 56 71", "rejected")]
    assert rows[3]["problems"][0]["message"].startswith("two numbers in one cell")


def test_a_hidden_column_gives_way_to_a_shown_one_and_is_said(runtime: Settings) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Mobile", "Consentement", "Prénom", "Opt-in SMS"], ["0612345678", "oui", "Zoé", "non"]):
        sheet.append(row)
    sheet.column_dimensions["A"].hidden = True  # the phone, hidden to tidy the screen: still the only one
    sheet.column_dimensions["B"].hidden = True  # last campaign's answer, kept out of sight
    buffer = io.BytesIO()
    book.save(buffer)
    with db.session_scope() as session:
        shown = preview(session, io.BytesIO(buffer.getvalue()), filename="f.xlsx",
                        options=ImportOptions(region="FR", mapping={"Consentement": "consent"}), limits=FileLimits())
        again = preview(session, io.BytesIO(buffer.getvalue()), filename="f.xlsx",
                        options=ImportOptions(region="FR"), limits=FileLimits())
    assert shown["rows"][0]["consent_text"] == "opt-in"  # the person's own choice stands
    columns = {c["column"]: (c["target"], c["note"]) for c in again["columns"]}
    assert columns["Mobile"] == ("phone", "hidden in the workbook: imported all the same (choose “Do not import” "
                                          "to leave it out)")
    assert columns["Consentement"] == ("ignore", "hidden in the workbook; consent comes from a column shown")
    assert again["rows"][0]["consent_text"] == "no marketing consent"  # the hidden, stale "oui" was read
