"""Resetting two-factor from the users page, in Chromium: the page said only "Two-factor reset for ana@…", not
that their sessions ended nor what they meet at their next log-in, and an admin resetting their own, or ending
their own sessions, was logged out without a word. The answer now says both, and the own-row buttons ask first."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.console import browser as tools
from tests.console.helpers import PASSWORD, create_console_user

pytestmark = pytest.mark.browser


def test_a_reset_says_what_the_user_meets_next_and_warns_an_admin_about_their_own(
    live_server: str, browser: Browser, page: Page
) -> None:
    create_console_user("ana@example.com", role="agent")
    create_console_user("mia@example.com", role="marketer")
    _, secret = create_console_user("lead@example.com", role="admin")
    tools.log_in(page, live_server, "lead@example.com", PASSWORD, secret)
    page.goto(f"{live_server}/console/users")
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    done = page.locator("#users .done")

    page.get_by_role("button", name="Reset 2FA of ana@example.com").click()
    expect(done).to_have_text(
        "Two-factor reset for ana@example.com: their authenticator and recovery codes are removed and their sessions "
        "ended. At their next log-in they set up a new authenticator.")
    assert asked[-1] == "Remove the authenticator of ana@example.com? Their sessions end."
    page.get_by_role("button", name="Reset 2FA of mia@example.com").click()
    expect(done).to_contain_text("A marketer need not use two-factor: their password is enough.")

    page.get_by_role("button", name="End sessions of lead@example.com").click()
    expect(done).to_have_text(re.compile(r"^1 session ended, yours included: log in again to go on\.$"))
    assert asked[-1] == "End all your sessions? This one ends too: you log in again."
    page.goto(f"{live_server}/console/users")
    page.wait_for_url("**/console/login**")  # as said

    _, second = create_console_user("deputy@example.com", role="admin")  # another admin resets their own
    deputy = browser.new_page()
    deputy.on("dialog", answer)
    tools.log_in(deputy, live_server, "deputy@example.com", PASSWORD, second)
    deputy.goto(f"{live_server}/console/users")
    deputy.get_by_role("button", name="Reset 2FA of deputy@example.com").click()
    expect(deputy.locator("#users .done")).to_have_text(
        "Your two-factor is reset and your sessions ended: log in again to set up a new authenticator.")
    assert asked[-1].startswith("Remove your own authenticator? Your sessions end, this one too")
    deputy.close()

    other = browser.new_page()  # ana, logging in again
    other.goto(f"{live_server}/console/login")
    other.get_by_label("E-mail").fill("ana@example.com")
    other.get_by_label("Password").fill(PASSWORD)
    other.keyboard.press("Enter")
    other.wait_for_url("**/console/enrol**")
    other.close()
