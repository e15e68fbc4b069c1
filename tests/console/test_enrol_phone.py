"""A first log-in on a phone: two-factor set-up at 360 px, in Chromium. A phone cannot scan the QR code on its own
screen, and the page only offered the raw ``otpauth://`` link as text, to pick the key out of by hand; the recovery
codes broke at their hyphen, so "2c069f-" and "b0794f" read as two codes. The key is now shown in groups of four,
with a link the phone's authenticator app opens, and each code stays on one line."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import Page, expect

from core import accounts, db
from tests.console import browser as tools
from tests.console.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_on_a_phone_the_new_admin_adds_the_key_by_hand_and_reads_each_recovery_code_whole(
    live_server: str, page: Page
) -> None:
    with db.session_scope() as session:
        accounts.create_user(session, email="first-admin@example.com", password=PASSWORD, role="admin")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    page.goto(f"{live_server}/console/login")
    page.get_by_label("E-mail").fill("first-admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/enrol**")
    codes = page.locator("#enrol-codes li")
    expect(codes).to_have_count(8)
    line = float(codes.first.evaluate("li => parseFloat(getComputedStyle(li).lineHeight)"))
    for height in codes.evaluate_all("items => items.map(li => li.getBoundingClientRect().height)"):
        assert height < 1.5 * line  # one line each

    page.get_by_text("Can't scan it (on this phone, say)? Add it by hand").click()
    key = page.locator("#enrol-key").inner_text()
    secret = key.replace(" ", "")
    assert all(len(group) == 4 for group in key.split(" ")[:-1]) and len(secret) >= 16
    link = page.get_by_role("link", name="open it in your authenticator app")
    href = link.get_attribute("href") or ""
    assert href.startswith("otpauth://totp/")
    totp = pyotp.parse_uri(href)
    assert isinstance(totp, pyotp.TOTP) and totp.secret == secret
    assert tools.page_width(page) <= tools.PHONE_WIDTH
    assert tools.serious_violations(page) == []

    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())  # the key typed by hand works
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/console/overview")
