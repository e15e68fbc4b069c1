"""The marketer's contacts pages on a TestClient: search and filters with keyset pages, the contact
page (consent ledger, campaign texts, conversations), the admin's export and audited erasure, the
import wizard's steps; agents and analysts get the friendly 403, unsafe requests need the CSRF header."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import func, select

from contacts import consent
from contacts.import_runner import run
from contacts.models import Contact, ContactImport
from conversations.models import Message
from core import db
from core.models import AuditEntry
from tests.campaigns.factories import create_campaign, create_template
from tests.console import browser as tools
from tests.console import import_steps as steps
from tests.console.helpers import create_console_user, escalated_conversation, log_in
from tests.contacts.helpers import create_contact

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}
PAGE = "/console/imports"
FRENCH_CSV = (
    "Téléphone;Prénom;Nom;Email;Consentement\r\n"
    "06 12 34 56 01;Zoé;Martin;zoe@example.fr;oui\r\n"
    "pas un numéro;Luc;Bernard;luc@example.fr;oui\r\n"
    "01 42 72 00 00;Hélène;Dubois;helene@example.fr;non\r\n"
).encode("cp1252")


def _contacts() -> dict[str, int]:
    with db.session_scope() as session:
        zoe = create_contact(session, 1, name="Martin", first_name="Zoé", language="fr", attributes={})
        consent.record_opt_in(session, contact=zoe, source="form", proof="shop sign-up form")
        ben = create_contact(session, 2, name="Smith", first_name="Ben", language="en", tags=["vip"])
        return {"zoe": zoe.id, "ben": ben.id}


def _marketer(client: TestClient) -> str:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return log_in(client, "mia@example.com", secret)


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-contact="')[1:]]


def test_search_and_filters_find_contacts_by_name_number_and_consent(app_client: TestClient) -> None:
    ids = _contacts()
    _marketer(app_client)
    page = app_client.get("/console/contacts", headers=HTML)
    assert page.status_code == 200, page.text
    assert _rows(page.text) == [str(ids["zoe"]), str(ids["ben"])]
    assert "+33*******01" in page.text and "+33600000001" not in page.text  # numbers are masked
    assert 'href="/console/contacts" aria-current="page"' in page.text
    assert _rows(app_client.get("/console/contacts", params={"q": "zoe"}, headers=HTML).text) == [str(ids["zoe"])]
    assert _rows(app_client.get("/console/contacts", params={"q": "06 00 00 00 02"}, headers=HTML).text) == [
        str(ids["ben"])
    ]
    filtered = app_client.get("/console/contacts", params={"consent": "opted_in", "language": "fr"}, headers=HTML)
    assert _rows(filtered.text) == [str(ids["zoe"])]
    assert _rows(app_client.get("/console/contacts", params={"tag": "vip"}, headers=HTML).text) == [str(ids["ben"])]
    bad = app_client.get("/console/contacts", params={"consent": "maybe"}, headers=HTML)
    assert bad.status_code == 422 and "consent" in bad.text


def test_contact_page_shows_ledger_campaign_texts_and_conversations(app_client: TestClient) -> None:
    ids = _contacts()
    conversation_id = escalated_conversation("+33600000001")  # Zoé's number: her conversation
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session), name="Soldes d'hiver")
        session.add(Message(contact_id=ids["zoe"], direction="out", author_type="system", body="-20 %",
                            status="delivered", lane="marketing", campaign_id=campaign.id))
    _marketer(app_client)
    page = app_client.get(f"/console/contacts/{ids['zoe']}", headers=HTML)
    assert page.status_code == 200, page.text
    ledger = page.text.split('id="consent-history"', 1)[1].split("</table>", 1)[0]
    assert "opt in" in ledger and "shop sign-up form" in ledger
    texts = page.text.split('id="campaign-history"', 1)[1].split("</table>", 1)[0]
    assert "Soldes d&#39;hiver" in texts and "delivered" in texts
    with db.session_scope() as session:  # waiting for the contact's best hour: said with when it goes, not when made
        later = create_campaign(session, create_template(session), name="Meilleure heure")
        session.add(Message(contact_id=ids["zoe"], direction="out", author_type="campaign", body="-10 %",
                            status="queued", lane="marketing", campaign_id=later.id,
                            created_at=datetime(2026, 12, 1, 11, 51), not_before=datetime(2026, 12, 3, 13, 0)))
    texts = app_client.get(f"/console/contacts/{ids['zoe']}", headers=HTML).text.split('id="campaign-history"', 1)[1]
    row = texts.split("Meilleure heure", 1)[1].split("</tr>", 1)[0]
    assert "<td>queued: planned for</td>" in row and "2026-12-03 13:00 UTC" in row, row
    assert f"Conversation #{conversation_id}" in page.text
    assert f'href="/console/conversations/{conversation_id}"' not in page.text  # marketers do not open threads
    assert "An administrator exports or erases" in page.text and "/erase" not in page.text
    assert app_client.get(f"/console/contacts/{ids['zoe']}/export", headers=HTML).status_code == 403


def test_admin_exports_and_erases_a_contact_with_the_csrf_header(app_client: TestClient) -> None:
    ids = _contacts()
    _, secret = create_console_user("root@example.com", role="admin")
    csrf = log_in(app_client, "root@example.com", secret)
    page = app_client.get(f"/console/contacts/{ids['zoe']}", headers=HTML)
    assert "Yes, erase this contact" in page.text
    exported = app_client.get(f"/console/contacts/{ids['zoe']}/export")
    assert exported.status_code == 200 and exported.json()["contact"]["first_name"] == "Zoé"
    assert "attachment" in exported.headers["content-disposition"]
    assert app_client.post(f"/console/contacts/{ids['zoe']}/erase", headers=HTMX).status_code == 403
    erased = app_client.post(f"/console/contacts/{ids['zoe']}/erase", headers={**HTMX, "X-CSRF-Token": csrf})
    assert erased.status_code == 200 and "is erased" in erased.text
    again = app_client.post(f"/console/contacts/{ids['zoe']}/erase", headers={**HTMX, "X-CSRF-Token": csrf})
    assert again.status_code == 409
    with db.session_scope() as session:
        contact = session.get(Contact, ids["zoe"])
        assert contact is not None and contact.erased and contact.phone is None
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(ids["zoe"]))))
    assert {"contact.export", "contact.erase"} <= actions


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient, role: str) -> None:
    ids = _contacts()
    _, secret = create_console_user(f"{role}@example.com", role=role)
    log_in(app_client, f"{role}@example.com", secret)
    for path in ("/console/contacts", f"/console/contacts/{ids['zoe']}", "/console/imports"):
        page = app_client.get(path, headers=HTML)
        assert page.status_code == 403 and "This page is not part of your role" in page.text, path
    assert "/console/contacts" not in app_client.get("/console/supervisor", headers=HTML).text  # not in their nav


def test_anonymous_browsers_are_sent_to_log_in(app_client: TestClient) -> None:
    page = app_client.get("/console/contacts", headers=HTML, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")


def _upload(**fields: str) -> tuple[dict[str, tuple[str, io.BytesIO, str]], dict[str, str | list[str]]]:
    return {"file": ("clients.csv", io.BytesIO(FRENCH_CSV), "text/csv")}, dict(fields)


def test_import_wizard_previews_maps_imports_and_reports(app_client: TestClient) -> None:
    csrf = _marketer(app_client)
    files, _ = _upload()
    assert app_client.post("/console/imports/upload", files=files, headers=HTMX).status_code == 403  # no CSRF
    headers = {**HTMX, "X-CSRF-Token": csrf}
    files, _ = _upload()
    shown = steps.upload(app_client, PAGE, files, headers)
    assert 'id="preview-encoding">cp1252<' in shown and 'id="preview-delimiter">;<' in shown
    assert '<option value="phone" selected>' in shown.split('data-column="Téléphone"', 1)[1].split("</select>")[0]
    assert 'data-row="3" data-status="rejected"' in shown and 'data-row="4" data-status="warning"' in shown
    assert "landline" in shown
    # the person overrides one column: the surname goes to "ignore"; the preview shows it
    columns = ["Téléphone", "Prénom", "Nom", "Email", "Consentement"]
    draft = steps.draft_id(shown)
    remapped = steps.choose(app_client, PAGE, draft,
                            {"column": columns, "target": ["phone", "first_name", "ignore", "ignore", "consent"]},
                            headers)  # fmt: skip
    assert '<option value="ignore" selected>' in remapped.split('data-column="Nom"', 1)[1].split("</select>")[0]
    chosen = {"column": columns, "target": ["phone", "first_name", "name", "ignore", "consent"]}
    # "Import" before the preview of the last choice is there: refused, nothing started
    assert app_client.post(f"{PAGE}/preview", data={"upload": str(draft), **chosen}, headers=headers).status_code == 200
    early = app_client.post("/console/imports", data={"upload": str(draft), **chosen}, headers=headers)
    assert early.status_code == 409 and "not ready" in early.text
    steps.shown(app_client, PAGE, draft, headers)
    started = app_client.post("/console/imports", data={"upload": str(draft), **chosen}, headers=headers)
    assert started.status_code == 200, started.text
    import_id = started.text.split('hx-get="/console/imports/', 1)[1].split('"', 1)[0]
    run(int(import_id))
    report = app_client.get(f"/console/imports/{import_id}", headers=HTMX)
    assert 'data-status="succeeded"' in report.text and 'hx-trigger="every 1s"' not in report.text
    assert 'id="report-created">2<' in report.text and 'id="report-rejected">1<' in report.text
    assert f'href="/api/v1/contacts/imports/{import_id}/rejected.csv"' in report.text
    # one rejected row is "row", not "the 1 rejected rows" (core.words.counted)
    assert "Download the 1 rejected row (CSV with the reasons)" in report.text
    assert "<h3>Rejected row</h3>" in report.text
    rejected = app_client.get(f"/api/v1/contacts/imports/{import_id}/rejected.csv")
    assert rejected.status_code == 200 and rejected.text.splitlines()[1].startswith("3,")
    assert app_client.post(f"/console/imports/{import_id}/cancel", headers=headers).status_code == 409
    page = app_client.get(f"/console/imports/{import_id}", headers=HTML)
    assert page.status_code == 200 and "Import finished" in page.text


def test_a_running_import_polls_and_cancels(app_client: TestClient) -> None:
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    files, _ = _upload()
    shown = steps.upload(app_client, PAGE, files, headers, data={"strict": "on"})
    started = app_client.post("/console/imports", data={**steps.form(shown), "strict": "on"}, headers=headers)
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.text
    import_id = started.text.split('hx-get="/console/imports/', 1)[1].split('"', 1)[0]
    cancelled = app_client.post(f"/console/imports/{import_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and "Import cancelled" in cancelled.text


EXCEL_CSV = (
    "\ufeffPrénom;Nom;Téléphone;E-mail;Consentement\r\n"
    "Zoé;Durand;06 12 34 56 78;zoe@example.fr;oui\r\n"
    "Hugo;Petit;+33 (0)6 23 45 67 89;hugo@example.fr;non\r\n"
    "\r\n"
    "Zoé;Durand;0033612345678;zoe@example.fr;oui\r\n"
    "Jules;Girard;06.45.67.89.01;jules@example.fr;\r\n"
).encode("utf-8")


def test_the_preview_says_which_rows_get_no_marketing_and_names_the_phone_column(app_client: TestClient) -> None:
    """An Excel CSV (BOM, semicolons): the duplicate's warning names the file's column, as the other
    rows' do, and a row with no consent is said to get no marketing texts before the import runs."""
    headers = {**HTMX, "X-CSRF-Token": _marketer(app_client)}
    files = {"file": ("export.csv", io.BytesIO(EXCEL_CSV), "text/csv")}
    shown = steps.upload(app_client, PAGE, files, headers)
    rows = {r.split('"', 1)[0]: r.split("</tr>", 1)[0] for r in shown.split('data-row="')[1:]}
    assert "Téléphone: the same number as row 2; this row was skipped" in rows["5"]
    assert ">phone:" not in shown
    consents = {n: r.split("<td data-consent>", 1)[1].split("</td>", 1)[0] for n, r in rows.items()}
    # 3: "non" is no marketing consent, not a STOP; 5: a duplicate, skipped
    assert consents == {"2": "opt-in", "3": "no marketing consent", "5": "", "6": "none: no marketing texts"}
    notice = shown.split('id="preview-consent-notice">', 1)[1].split("</p>", 1)[0]
    assert notice.startswith("1 row has no consent") and "will not get marketing texts until they opt in" in notice
    assert "RELAIS_" not in notice  # the setting is an administrator's to change: not named to a marketer


def test_a_file_with_no_phone_column_asks_for_one_in_the_wizards_words(app_client: TestClient) -> None:
    """Rows not checked yet read "ok", under "no column maps to phone: … or pass a mapping" (the API's words)."""
    headers = {**HTMX, "X-CSRF-Token": _marketer(app_client)}
    files = {"file": ("villes.csv", io.BytesIO(b"nom;ville\nDupont;Lyon\n"), "text/csv")}
    shown = steps.upload(app_client, PAGE, files, headers)
    problem = shown.split('id="preview-problem">', 1)[1].split("</p>", 1)[0]
    assert "choose “Phone number” below" in problem and "pass a mapping" not in shown
    row = shown.split('data-row="2"', 1)[1].split("</tr>", 1)[0]
    assert "not checked yet" in row and "status-ok" not in row and 'id="import-start"' not in shown


def test_the_report_carries_the_consent_notice(app_client: TestClient) -> None:
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    files = {"file": ("mobiles.csv", io.BytesIO(b"mobile\n+33600000077\n"), "text/csv")}
    started = app_client.post("/console/imports", data=steps.form(steps.upload(app_client, PAGE, files, headers)),
                              headers=headers)  # fmt: skip
    import_id = started.text.split('hx-get="/console/imports/', 1)[1].split('"', 1)[0]
    run(int(import_id))
    report = app_client.get(f"/console/imports/{import_id}", headers=HTMX)
    assert 'id="report-created">1<' in report.text and "rejected rows" not in report.text
    notice = report.text.split('class="notice consent-notice">', 1)[1].split("</p>", 1)[0]
    assert "1 row has no consent" in notice and "will not get marketing texts until they opt in" in notice
    assert "RELAIS_" not in notice
    _, secret = create_console_user("ada@example.com", role="admin")
    log_in(app_client, "ada@example.com", secret)
    for_admin = app_client.get(f"/console/imports/{import_id}", headers=HTMX).text
    assert "(Setting RELAIS_MARKETING_CONSENT=opt_in.)" in for_admin  # who can change it reads which setting

# -- the marketer's journey in Chromium ----------------------------------------------------------


def _existing_audience() -> None:
    """Contacts already in the database: two French and one English opted in, one French without consent."""
    with db.session_scope() as session:
        for n, language, opted_in in ((11, "fr", True), (12, "fr", True), (13, "en", True), (14, "fr", False)):
            contact = create_contact(session, n, first_name=f"Client {n}", language=language)
            if opted_in:
                consent.record_opt_in(session, contact=contact, source="form", proof="shop sign-up form")


@pytest.mark.browser
def test_marketer_imports_a_french_csv_finds_a_contact_and_builds_a_segment(live_server: str, page: Page) -> None:
    _existing_audience()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")

    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Import contacts").click()
    page.wait_for_url(f"{live_server}/console/imports")
    upload: FilePayload = {"name": "clients.csv", "mimeType": "text/csv", "buffer": FRENCH_CSV}
    page.set_input_files("#import-file", files=[upload])
    expect(page.locator("#preview-encoding")).to_have_text("cp1252")
    expect(page.locator("#preview-delimiter")).to_have_text(";")
    expect(page.get_by_label("Field for column Téléphone")).to_have_value("phone")
    expect(page.get_by_label("Field for column Prénom")).to_have_value("first_name")
    expect(page.locator('#preview-rows tr[data-row="3"]')).to_have_attribute("data-status", "rejected")
    expect(page.locator('#preview-rows tr[data-row="4"]')).to_contain_text("landline")
    expect(page.get_by_label("All or nothing: import no row if any row is invalid")).not_to_be_checked()
    tools.fits(page)

    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#report-created")).to_have_text("2")
    expect(page.locator("#report-rejected")).to_have_text("1")
    expect(page.locator("#report-warnings-list")).to_contain_text("Row 4")
    tools.fits(page)
    with page.expect_download() as download:
        page.locator("#rejected-link").click()
    path = download.value.path()
    rejected = path.read_text(encoding="utf-8").splitlines()
    assert rejected[0].startswith("row,reason,Téléphone") and rejected[1].startswith("3,") and len(rejected) == 2

    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label("Name, e-mail or phone number").focus()
    page.keyboard.type("zoe")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/contacts?q=zoe**")
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    tools.fits(page)
    page.get_by_role("link", name="Zoé Martin").click()
    expect(page.locator("#contact-facts")).to_contain_text("+33*******01")
    expect(page.locator("#consent-history")).to_contain_text("opt in")
    expect(page.locator("#consent-history")).to_contain_text("import")
    tools.fits(page)

    page.get_by_role("link", name="Segments", exact=True).click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name", exact=True).fill("Clients FR avec consentement")
    expect(page.locator("#segment-count")).to_have_text("4")  # opted in: three already there and Zoé
    page.get_by_role("button", name="Add a condition to group 1").click()
    tools.settled(page)
    page.get_by_label("Field, condition 2 of group 1").select_option("language")
    expect(page.locator("input#value-0-1")).to_be_visible()  # the builder re-drew the row as a text field
    tools.settled(page)
    page.get_by_label("Value, condition 2 of group 1").fill("fr")
    expect(page.locator("#segment-count")).to_have_text("2")
    expect(page.locator("#segment-samples li")).to_have_count(2)
    tools.fits(page)
    page.get_by_role("button", name="Save the segment").click()
    page.wait_for_url("**/console/segments?done=saved")
    expect(page.locator("#segments tbody tr")).to_have_count(1)
    expect(page.locator('#segments [data-figure="count"]')).to_have_text("2")
    tools.fits(page)


@pytest.mark.browser
def test_admin_erases_a_contact_after_confirming(live_server: str, page: Page) -> None:
    ids = _contacts()
    tools.sign_in_as(page, live_server, "root@example.com", "admin")
    page.goto(f"{live_server}/console/contacts/{ids['zoe']}")
    expect(page.get_by_role("link", name="Download everything held on this person (JSON)")).to_be_visible()
    confirm = page.get_by_role("button", name="Yes, erase this contact")
    expect(confirm).to_be_hidden()  # behind the confirmation step
    page.locator("details.danger summary").focus()
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    tools.fits(page)
    confirm.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Contact #{ids['zoe']} is erased")).to_be_focused()
    with db.session_scope() as session:
        contact = session.get(Contact, ids["zoe"])
        assert contact is not None and contact.erased


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.browser
def test_the_import_says_it_is_working_and_starts_once(live_server: str, page: Page) -> None:
    """The first XLSX preview took seconds with nothing on the screen; while it and the import's start are
    under way the page says so, and the import button, the file and the mapping cannot be used again."""
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/imports")
    network = page.context.new_cdp_session(page)

    def slow_network(latency_ms: int) -> None:
        """Every request takes this long, as on a slow connection: the page is seen while its requests are under
        way without intercepting them (an intercepted request's event once never reached the test)."""
        network.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                          "downloadThroughput": -1, "uploadThroughput": -1})

    network.send("Network.enable")
    slow_network(6_000)
    workbook = _xlsx([["Téléphone", "Prénom", "Consentement"], ["06 12 34 56 01", "Zoé", "oui"],
                      ["06 12 34 56 02", "Luc", "Y"]])
    upload: FilePayload = {"name": "clients.xlsx", "buffer": workbook,
                           "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    page.set_input_files("#import-file", files=[upload])
    busy = page.locator("#import-busy")
    expect(busy).to_be_visible()
    expect(busy).to_contain_text("Uploading the file")
    expect(page.get_by_label("Field for column Téléphone")).to_have_value("phone", timeout=30_000)
    expect(busy).to_be_hidden()

    slow_network(10_000)
    start = page.get_by_role("button", name="Import the file")
    start.click()
    expect(page.locator("#import-starting")).to_be_visible()
    expect(start).to_be_disabled()
    expect(page.locator("#import-file")).to_be_disabled()
    expect(page.get_by_label("Field for column Téléphone")).to_be_disabled()
    start.click(force=True)  # a second click (the mouse, as a person's) while the first is under way does nothing
    slow_network(0)
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#report-created")).to_have_text("2")
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ContactImport)) == 1
    assert tools.serious_violations(page) == []
