"""Playwright helpers for the console's browser tests: Debian's Chromium, axe-core, TOTP log-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.helpers import PASSWORD, create_console_user
from tests.helpers import skip_unless_ci

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE_WIDTH = 360  # the narrowest phone every page must fit
HOME = re.compile(r".*/console/(inbox|campaigns|qa|overview)(\?.*)?$")  # each role's landing page


def require_tools() -> None:
    """Skip (locally) or fail (CI=true) when Chromium or axe-core is missing, saying how to get it."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not AXE.exists():
        missing.append(f"{AXE} (npm ci at the repository root)")
    if not missing:
        return
    skip_unless_ci("browser tests need " + " and ".join(missing))


def launch() -> Iterator[Browser]:
    require_tools()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the current page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the console's CSP (script-src 'self') rightly
        # blocks an injected inline <script>, and the test must not switch the CSP off
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations",
        AXE_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def log_in(page: Page, base_url: str, email: str, password: str, secret: str) -> None:
    """Password then TOTP through the log-in page, with the keyboard only; returns on the role's home page."""
    page.goto(f"{base_url}/console")
    page.wait_for_url("**/console/login**")
    page.keyboard.type(email)  # the e-mail field has focus on load
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_selector("#code", state="visible")
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    page.wait_for_url(HOME)


def sign_in_as(page: Page, base_url: str, email: str, role: str) -> int:
    """A new console user with ``role`` (``helpers.PASSWORD``, a TOTP factor), logged in through the page; their id."""
    user_id, secret = create_console_user(email, role=role)
    log_in(page, base_url, email, PASSWORD, secret)
    return user_id


def settled(page: Page, region: str = "#rules") -> None:
    """The part HTMX re-drew in ``region`` is in place and wired (a person is never faster than this)."""
    expect(page.locator(f"{region} .htmx-added, {region} .htmx-settling, {region} .htmx-request")).to_have_count(0)
    expect(page.locator(region)).not_to_have_class(re.compile("htmx-(settling|swapping)"))


def page_width(page: Page) -> int:
    """How wide the document is: more than the viewport means the page scrolls sideways."""
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def fits(page: Page) -> None:
    """No sideways scrolling on a phone, no serious or critical axe-core violation; back to desktop size."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
    assert page_width(page) <= PHONE_WIDTH, page.url
    assert serious_violations(page) == [], page.url
    page.set_viewport_size({"width": 1366, "height": 900})
