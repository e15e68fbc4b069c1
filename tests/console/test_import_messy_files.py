"""The import wizard in Chromium with a workbook as marketers export it: a summary sheet first, a title above the
header, phones typed as numbers, a consent answer merged over two rows, a totals row."""

from __future__ import annotations

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.console import browser as tools
from tests.contacts.test_messy_files import _workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.browser
def test_the_wizard_reads_the_list_sheet_under_its_title_and_says_so(live_server: str, page: Page) -> None:
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/imports")
    upload: FilePayload = {"name": "fidelite.xlsx", "mimeType": XLSX, "buffer": _workbook()}
    page.set_input_files("#import-file", files=[upload])
    # it said "No column is imported as the phone number yet", showing the summary sheet's first row
    expect(page.get_by_label("Field for column Mobile")).to_have_value("phone", timeout=30_000)
    notes = page.locator("#import-step .file-note")
    expect(notes.nth(0)).to_have_text(
        "Read the sheet “Clients”; the workbook's other sheets are not imported: “Résumé”, “Listes”.")
    expect(notes.nth(1)).to_contain_text("The column names are on row 3")
    expect(page.locator('#preview-rows tr[data-row="5"] [data-consent]')).to_have_text("opt-in")  # merged with row 4
    expect(page.locator('#preview-rows tr[data-row="6"] [data-consent]')).to_have_text("no marketing consent")
    expect(page.locator('#preview-rows tr[data-row="7"]')).to_have_attribute("data-status", "rejected")
    tools.fits(page)

    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#report-created")).to_have_text("3")
    expect(page.locator("#report-rejected")).to_have_text("1")
    expect(page.locator("#report-errors")).to_contain_text(
        "Row 7: Mobile: a totals row (“Total”), not a contact: nothing to import")
    expect(page.locator("#import-progress .file-note").first).to_contain_text("Read the sheet “Clients”")
    tools.fits(page)



@pytest.mark.browser
def test_a_wrong_file_then_an_empty_one_say_why_and_the_right_one_imports(live_server: str, page: Page) -> None:
    """Each failure says what is wrong in place of the preview and imports nothing; choosing the right file after
    them previews it (the worker reads it: the page polls) and imports it."""
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/order-imports")  # the orders page shares the steps
    pdf: FilePayload = {"name": "photo.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\x00\x00\x89binary"}
    page.set_input_files("#order-import-file", files=[pdf])
    expect(page.locator("#draft-error")).to_contain_text("“photo.pdf” cannot be imported: this is not a spreadsheet")
    page.goto(f"{live_server}/console/imports")
    empty: FilePayload = {"name": "vide.csv", "mimeType": "text/csv", "buffer": b""}
    page.set_input_files("#import-file", files=[empty])
    expect(page.locator("#draft-error")).to_contain_text("“vide.csv” cannot be imported: the file is empty")
    expect(page.locator("#import-start")).to_have_count(0)
    assert tools.serious_violations(page) == []
    messy = "Clients – export du 12/11/2026;;\nTéléphone;Prénom;Consentement\n06 12 34 56 01;Zoé;oui\n"
    good: FilePayload = {"name": "clients.csv", "mimeType": "text/csv", "buffer": messy.encode("cp1252")}
    page.set_input_files("#import-file", files=[good])
    expect(page.get_by_label("Field for column Téléphone")).to_have_value("phone", timeout=30_000)
    expect(page.locator("#draft-error")).to_have_count(0)
    expect(page.locator("#import-step .file-note")).to_contain_text("The column names are on row 2")
    page.get_by_label("Field for column Prénom").select_option("ignore")  # previewed again, by the worker
    expect(page.locator("#import-draft")).to_have_attribute("data-state", "previewed", timeout=30_000)
    expect(page.get_by_label("Field for column Prénom")).to_have_value("ignore")
    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#report-created")).to_have_text("1")
    tools.fits(page)


@pytest.mark.browser
def test_on_a_phone_each_column_s_choice_reads_whole(live_server: str, page: Page) -> None:
    """At 360 px the mapping's selects took their longest option's width, 540 px in a 352 px box: the choice read
    "Marketing consent (ye", the rest behind a sideways scroll. Each column now sits above its choice, in sight."""
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    page.goto(f"{live_server}/console/imports")
    messy = "Téléphone;Prénom;Consentement\n06 12 34 56 01;Zoé;oui\n"
    upload: FilePayload = {"name": "clients.csv", "mimeType": "text/csv", "buffer": messy.encode("cp1252")}
    page.set_input_files("#import-file", files=[upload])
    expect(page.get_by_label("Field for column Téléphone")).to_have_value("phone", timeout=30_000)
    selects = page.locator("#mapping select")
    assert selects.count() == 3
    for i in range(3):
        box = selects.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= tools.PHONE_WIDTH, box
        assert selects.nth(i).evaluate("s => s.scrollWidth <= s.parentElement.clientWidth")
    tools.fits(page)
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    page.goto(f"{live_server}/console/order-imports")  # the orders' mapping, the same table
    orders = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
              "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/01/2010 08:26,2.55,17850,United Kingdom\n")
    page.set_input_files("#order-import-file", files=[{"name": "orders.csv", "mimeType": "text/csv",
                                                         "buffer": orders.encode()}])
    expect(page.locator("#order-mapping select")).to_have_count(8, timeout=30_000)
    for select in page.locator("#order-mapping select").all():
        box = select.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= tools.PHONE_WIDTH, box
    tools.fits(page)
