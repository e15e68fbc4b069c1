"""The admin's pages walked in Chromium: create an API key, copy its secret (shown once), revoke it;
change a user's role and see their navigation change at their next log-in; filter the audit log
and download the same entries as CSV. Each page fits a phone and passes axe-core."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from core import db
from core.models import User
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, create_console_user

pytestmark = pytest.mark.browser


def test_admin_creates_copies_and_revokes_an_api_key(live_server: str, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    tools.sign_in_as(page, live_server, "boss@example.com", "admin")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    tools.fits(page)

    page.get_by_label("Name").fill("Prometheus")
    page.get_by_label(re.compile("^analyst")).check()
    page.get_by_role("button", name="Create the key").click()
    title = page.locator("#apikey-secret-title")
    expect(title).to_have_text("Copy the key “Prometheus” now: you will not see it again")
    expect(title).to_be_focused()
    secret = page.get_by_label("Key", exact=True).input_value()
    assert secret.startswith("rls_")
    expect(page.get_by_label("Name")).to_have_value("")  # the form is empty again
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#apikey-copied")).to_have_text("Copied. Paste it where the integration keeps its secrets.")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    tools.fits(page)
    row = page.locator("tr", has_text="Prometheus")
    expect(row).to_contain_text("analyst")
    expect(row).to_contain_text("by boss@example.com")

    page.reload()
    expect(page.locator("#apikey-secret")).to_have_count(0)
    assert secret not in page.content()  # shown once

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the key Prometheus").click()
    expect(page.get_by_role("status").filter(has_text="is revoked")).to_have_text(
        "The key “Prometheus” is revoked: requests with it are refused from now on."
    )
    expect(row).to_contain_text("revoked")
    expect(page.get_by_role("button", name="Revoke the key Prometheus")).to_have_count(0)
    answer = page.request.get(f"{live_server}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401

    # the audit log's "Who" lists the key with its prefix, the longest option: it pushed the page sideways on a phone
    page.goto(f"{live_server}/console/audit")
    expect(page.locator("#f-actor option", has_text="Prometheus")).to_have_count(1)
    tools.fits(page)


def test_a_role_change_shows_in_the_users_navigation_at_their_next_log_in(
    live_server: str, page: Page, browser: Browser
) -> None:
    ann_id, ann_secret = create_console_user("ann@example.com", role="analyst")
    ann = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    ann.set_default_timeout(30_000)
    tools.log_in(ann, live_server, "ann@example.com", PASSWORD, ann_secret)
    nav = ann.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="QA reports")).to_be_visible()
    expect(nav.get_by_role("link", name="Contacts")).to_have_count(0)

    tools.sign_in_as(page, live_server, "boss@example.com", "admin")
    page.goto(f"{live_server}/console/users")
    me = page.locator("tr", has_text="boss@example.com")
    expect(me).to_contain_text("another admin can change your role")
    expect(me.get_by_role("button", name="Deactivate boss@example.com")).to_have_count(0)
    page.get_by_label("Role of ann@example.com", exact=True).select_option("marketer")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Change role of ann@example.com").click()
    expect(page.locator("#users .done")).to_contain_text("ann@example.com is now a marketer. Their sessions ended")
    expect(page.get_by_label("Role of ann@example.com", exact=True)).to_have_value("marketer")
    tools.fits(page)

    ann.reload()  # her session ended with the change
    ann.wait_for_url("**/console/login**")
    with db.session_scope() as session:  # as if the next 30 s had passed: her code is not a replay
        user = session.get(User, ann_id)
        assert user is not None
        user.totp_last_step = None
    tools.log_in(ann, live_server, "ann@example.com", PASSWORD, ann_secret)
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    expect(nav.get_by_role("link", name="QA reports")).to_have_count(0)
    assert ann.url.endswith("/console/campaigns")
    ann.context.close()


def test_admin_filters_the_audit_log_and_downloads_the_same_entries(live_server: str, page: Page) -> None:
    ann_id, _ = create_console_user("ann@example.com", role="analyst")
    tools.sign_in_as(page, live_server, "boss@example.com", "admin")
    page.goto(f"{live_server}/console/users")
    page.get_by_label("Role of ann@example.com", exact=True).select_option("marketer")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Change role of ann@example.com").click()
    expect(page.locator("#users .done")).to_contain_text("ann@example.com is now a marketer")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit-zone")).to_have_text("Europe/Paris")
    expect(page.locator("#audit tbody tr").first).to_contain_text("Changed a user's role")
    page.get_by_label("Who").select_option(label="boss@example.com")
    page.get_by_label("What").select_option(label="Changed a user's role")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#audit-count")).to_have_text("Entries 1–1 of 1, newest first.")
    row = page.locator("#audit tbody tr")
    expect(row).to_contain_text("user ann@example.com")
    expect(row).to_contain_text("role: analyst → marketer")
    tools.fits(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download these entries (CSV)").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert [(r["action"], r["target_id"]) for r in rows] == [("user.role.change", str(ann_id))]

    page.get_by_label("From").fill("2026-12-02")
    page.get_by_label("To (included)").fill("2026-12-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert").filter(has_text="From")).to_contain_text("“From” is after “To”")


def test_admin_adds_a_webhook_a_loopback_address_is_refused_in_words_then_deactivates_it(
    live_server: str, page: Page
) -> None:
    """Webhooks were managed through the API only: an admin walking the console found no page for them.
    The page adds one (a loopback or private address refused under the field's label, no event chosen
    refused by the group's legend), shows its signing secret once, deactivates it after a confirmation,
    and both changes are in the audit log with who made them."""
    tools.sign_in_as(page, live_server, "hooks@example.com", "admin")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(page.locator("#webhooks-title")).to_have_text("0 webhooks")
    tools.fits(page)

    page.get_by_label("Address (URL)").fill("http://127.0.0.1:8080/relais")
    page.get_by_label(re.compile("^conversation.escalated")).check()
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.locator("#action-error")).to_have_text(
        "Address (URL): must point to the public internet: 127.0.0.1 is a loopback address")
    expect(page.get_by_label("Address (URL)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Address (URL)")).to_be_focused()
    page.get_by_label(re.compile("^conversation.escalated")).uncheck()
    page.get_by_label("Address (URL)").fill("https://93.184.215.14/relais")  # public, numeric: no DNS lookup
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.locator("#action-error")).to_contain_text("Events to send: choose at least one event type")
    page.get_by_label(re.compile("^conversation.escalated")).check()
    page.get_by_label(re.compile("^contact.opted_out")).check()
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.locator("#action-error")).to_have_text("")
    title = page.locator("#webhook-secret-title")
    expect(title).to_have_text("Copy the signing secret of https://93.184.215.14/relais now: you will not see it again")
    expect(title).to_be_focused()
    assert re.fullmatch(r"[0-9a-f]{64}", page.get_by_label("Secret", exact=True).input_value())
    expect(page.get_by_label("Address (URL)")).to_have_value("")  # the form is empty again
    row = page.locator("[data-webhook]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("contact.opted_out, conversation.escalated")
    tools.fits(page)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate the webhook to https://93.184.215.14/relais").click()
    expect(row).to_have_attribute("data-state", "inactive")
    expect(page.locator("#webhooks .done")).to_have_text(re.compile(r"Webhook \d+ is deactivated"))

    row.get_by_role("link", name=re.compile("^History")).click()
    entries = page.locator("tbody tr")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("Turned a webhook off")
    expect(entries.nth(1)).to_contain_text("Subscribed a webhook")
    expect(entries.nth(0)).to_contain_text("hooks@example.com")
    tools.fits(page)
