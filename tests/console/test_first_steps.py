"""What a first-time user tripped on when each role's journey was walked in Chromium (README's run
command, the demo users), each checked where it happened.

On a TestClient: the inbox's keyboard shortcuts and new-conversation notifications are offered only
to the roles with an inbox; the template editor's "Preview for" list names the demo's "Léa Martin"
once; the QA page puts each run's report links where the row starts (a suite with many figures
scrolled them out of sight) and tells how to write a first report; an admin adds a user from the
users page (the overview promised it) with a temporary password, audited like the API.
In Chromium: a long thread opens on its newest message and the agent's reply is shown once sent
(it stayed below the fold of the thread's box); a refused template save says which field, in
words, and the live re-check that follows no longer wipes the message; the page a save leads to
(HX-Location) opens at its top.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaigns.models import Template
from contacts.import_runner import run
from conversations.models import Conversation
from core import db
from core.models import AuditEntry, User
from core.settings import Settings
from eval.report import Report
from tests.campaigns.factories import create_contact, create_template
from tests.console import browser as tools
from tests.console import import_steps as steps
from tests.console.helpers import PASSWORD, create_console_user, customer_message, escalated_conversation, log_in
from tests.eval.stored import stored

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _signed_in(client: TestClient, role: str) -> str:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    return log_in(client, f"{role}@example.com", secret)


@pytest.mark.parametrize(
    ("role", "page", "inbox"),
    [
        ("marketer", "/console/campaigns", False),
        ("analyst", "/console/qa", False),
        ("agent", "/console/inbox", True),
    ],
)
def test_inbox_shortcuts_and_notifications_are_offered_to_inbox_roles_only(
    app_client: TestClient, role: str, page: str, inbox: bool
) -> None:
    _signed_in(app_client, role)
    text = app_client.get(page, headers=HTML).text
    # before: every role got "Shortcuts" (j/k, assign, hand back...) and "Notify me of new conversations",
    # whose key a marketer or analyst is refused (403): a button that did nothing
    assert ('id="shortcuts"' in text) is inbox and ("data-shortcuts-open" in text) is inbox
    assert ('class="me" data-inbox' in text) is inbox
    assert "data-logout" in text


def test_the_preview_list_names_a_contact_once(app_client: TestClient) -> None:
    with db.session_scope() as session:
        lea = create_contact(session, 1, first_name="Léa", name="Léa Martin").id  # the demo's whole name
        hugo = create_contact(session, 2, first_name="Hugo", name="Bernard").id  # a family name, as imports map "Nom"
    _signed_in(app_client, "marketer")
    text = app_client.get("/console/templates/new", headers=HTML).text
    assert f'<option value="{lea}" selected>Léa Martin · ' in text and "Léa Léa" not in text  # before: "Léa Léa Martin"
    assert f'<option value="{hugo}" >Hugo Bernard · ' in text


def test_qa_runs_link_their_report_where_the_row_starts(app_client: TestClient, runtime: Settings) -> None:
    _signed_in(app_client, "analyst")
    empty = app_client.get("/console/qa", headers=HTML).text
    assert "<code>relais eval list</code> names the suites" in empty  # before: "--suite NAME", no name given
    figures = {f"figure_{n:02d}": 0.5 + n / 100 for n in range(25)}
    stored(Report(suite="keywords", summary=figures, metrics={}, created_at="2026-03-01T00:00:00+00:00"),
           datetime(2026, 3, 1, tzinfo=UTC))
    text = app_client.get("/console/qa", headers=HTML).text
    row = text.split('data-report="', 1)[1].split("</tr>", 1)[0]
    first_cell = row.split("</th>", 1)[0]
    assert '/html">Report' in first_cell and 'type="application/json">JSON' in first_cell  # before: the last column
    assert "data-local-time" in first_cell


def test_admin_adds_a_user_from_the_users_page(app_client: TestClient) -> None:
    csrf = _signed_in(app_client, "admin")
    page = app_client.get("/console/users", headers=HTML).text
    assert 'id="user-new"' in page and 'for="new-password"' in page
    headers = {**HTMX, "X-CSRF-Token": csrf}
    form = {"email": "Nina@Example.com", "name": "Nina", "role": "agent", "password": "temporary-pass-1"}
    added = app_client.post("/console/users", data=form, headers=headers)
    assert added.status_code == 200, added.text
    assert "nina@example.com is added as agent" in added.text and 'data-user="' in added.text
    assert 'id="user-new"' in added.text and 'hx-swap-oob="true"' in added.text  # the form, empty again
    with db.session_scope() as session:
        nina = session.scalars(select(User).where(User.email == "nina@example.com")).one()
        assert (nina.role, nina.password_must_change) == ("agent", True)
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).one()
        assert audited.target_id == str(nina.id)
    again = app_client.post("/console/users", data=form, headers=headers)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    short = app_client.post(
        "/console/users", data={**form, "email": "x@example.com", "password": "short"}, headers=headers
    )
    assert short.status_code == 422 and "at least 12 characters" in short.json()["detail"]
    assert app_client.post("/console/users", data=form, headers=HTMX).status_code == 403  # no CSRF token
    app_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    marketer_csrf = _signed_in(app_client, "marketer")
    refused = app_client.post(
        "/console/users", headers={**HTMX, "X-CSRF-Token": marketer_csrf}, data={**form, "email": "y@example.com"}
    )
    assert refused.status_code == 403


def test_the_imports_page_lists_the_import_it_just_ran(app_client: TestClient) -> None:
    csrf = _signed_in(app_client, "marketer")
    assert "No import yet." in app_client.get("/console/imports", headers=HTML).text
    csv = "Téléphone;Prénom\n06 12 34 56 01;Anne\n".encode()
    on_page = {**HTMX, "X-CSRF-Token": csrf, "HX-Current-URL": "http://testserver/console/imports"}
    shown = steps.upload(app_client, "/console/imports", {"file": ("clients.csv", csv, "text/csv")}, on_page)
    started = app_client.post("/console/imports", data=steps.form(shown), headers=on_page)
    assert started.status_code == 200, started.text
    import_id = int(started.text.split('hx-get="/console/imports/', 1)[1].split('"', 1)[0])
    assert 'id="recent-imports-section"' in started.text and 'hx-swap-oob="true"' in started.text
    run(import_id)
    report = app_client.get(f"/console/imports/{import_id}", headers=on_page)
    # before: the report said "Import finished" above a list still saying "No import yet." until a reload
    recent = report.text.split('id="recent-imports-section"', 1)[1]
    assert "clients.csv</a> · succeeded ·\n      1 new" in recent and "No import yet." not in recent
    alone = app_client.get(f"/console/imports/{import_id}", headers={**HTMX, "HX-Current-URL": "http://testserver/x"})
    assert "recent-imports-section" not in alone.text  # another page has no list to redraw


def test_a_new_campaign_starts_in_the_business_country_zone(app_client: TestClient, runtime: Settings) -> None:
    _signed_in(app_client, "marketer")
    assert runtime.default_region == "FR"
    text = app_client.get("/console/campaigns/new", headers=HTML).text
    field = text.split('id="timezone"', 1)[1].split(">", 1)[0]
    assert 'value="Europe/Paris"' in field  # before: UTC, so a Paris shop's 08:00 sends were planned at "07:00"


def _long_thread(conversation_id: int, replies: int) -> None:
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        start = datetime.now(UTC) - timedelta(minutes=replies + 1)
        for n in range(replies):
            session.add(customer_message(conversation, f"Message number {n}", created_at=start + timedelta(minutes=n)))


def _thread_gap(page: Page) -> int:
    """How far the thread's box is from showing its last message (0: the newest is in view)."""
    script = (
        "() => { const l = document.getElementById('messages'); return l.scrollHeight - l.clientHeight - l.scrollTop }"
    )
    return int(page.evaluate(script))


@pytest.mark.browser
def test_a_long_thread_opens_on_its_newest_message_and_shows_the_reply(live_server: str, page: Page) -> None:
    conversation_id = escalated_conversation("+33611112401", "Bonjour, un humain svp", language="fr")
    _long_thread(conversation_id, 20)
    tools.sign_in_as(page, live_server, "lea@example.com", "agent")
    page.goto(f"{live_server}/console/conversations/{conversation_id}")
    expect(page.locator("#messages li")).to_have_count(21)
    assert _thread_gap(page) <= 1  # before: the oldest message at the top, the newest out of sight
    page.get_by_label("Reply to the customer").fill("Je regarde votre commande.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages li").last).to_contain_text("Je regarde votre commande.")
    assert _thread_gap(page) <= 1  # the reply just sent is in view
    expect(page.locator("#messages li").last).to_be_in_viewport()


@pytest.mark.browser
def test_a_refused_save_names_the_field_and_outlives_the_live_check(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        for n in range(8):  # a list taller than the window it opens in
            create_template(session, name=f"Promo {n}")
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 640})
    page.goto(f"{live_server}/console/templates/new")
    message = page.get_by_label("Message", exact=True)
    message.fill("Bonjour, -20 % ce week-end !")
    checked = page.locator("#template-check")
    expect(checked).to_contain_text("characters")
    message.press("End")
    message.type(" Vite.")  # typed, then straight to Save: leaving the box re-checks it (change)
    with page.expect_response(re.compile(r".*/console/templates/check$")):
        page.get_by_role("button", name="Save the template").click()
    # before: "name: String should have at least 1 character", then wiped by the re-check that followed
    expect(page.locator("#action-error")).to_have_text("Name: this is required")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name", exact=True).fill("Week-end")
    page.get_by_role("button", name="Save the template").click()
    page.wait_for_url(re.compile(r".*/console/templates\?done="))
    assert page.evaluate("() => window.scrollY") == 0  # before: left scrolled down where the Save button was
    with db.session_scope() as session:
        assert session.scalars(select(Template).where(Template.name == "Week-end")).one()


@pytest.mark.browser
def test_an_empty_code_is_asked_for_in_words(live_server: str, page: Page) -> None:
    create_console_user("lea@example.com", role="agent")
    page.goto(f"{live_server}/console/login")
    page.get_by_label("E-mail").fill("lea@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    code = page.get_by_label("Code from your authenticator app (or a recovery code)")
    expect(code).to_be_focused()
    page.keyboard.press("Enter")  # nothing typed yet
    # before: "code: String should have at least 6 characters", the API's refusal
    expect(page.locator("#login-error")).to_have_text(
        "Type the 6-digit code your authenticator app shows (or one of your recovery codes)."
    )
    expect(code).to_be_focused()
