"""The console in a real browser (Debian's Chromium via Playwright), against a real server.

A customer texts through the simulator page, the bot escalates, an agent who logged in with a
TOTP code sees it arrive live, works it with the keyboard only, the customer's simulated phone
shows the reply, the agent hands back and the bot answers the next question. axe-core checks
every console page for serious or critical WCAG 2.1 AA violations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from agent.runtime import DEFAULT_KB, get_runtime
from core.settings import Settings
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, conversation_state, create_console_user

pytestmark = pytest.mark.browser

HOURS_DOC = b"""# Opening hours

Our shop in Lyon is open Monday to Saturday from 9am to 7pm. We are closed on Sundays and on
public holidays. Customer service answers text messages during the same opening hours.
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_customer_to_agent_and_back_to_the_bot(
    live_server: str, runtime: Settings, browser: Browser, page: Page
) -> None:
    get_runtime(runtime).knowledge.ingest_bytes(HOURS_DOC, filename="hours.md", kb=DEFAULT_KB)
    agent_id, secret = create_console_user("agent@example.com", status="online")

    tools.log_in(page, live_server, "agent@example.com", PASSWORD, secret)
    page.wait_for_selector("body[data-stream-open]")
    assert tools.serious_violations(page) == []

    phone = browser.new_page()
    phone.goto(f"{live_server}/simulator")
    phone.fill("#phone", "+33655555555")
    phone.dispatch_event("#phone", "change")
    phone.fill("#body", "I want to talk to a human")
    phone.click("#compose button[type=submit]")

    link = page.locator("[data-conversation-link]")
    expect(link).to_have_count(1, timeout=20_000)  # arrives live: no reload
    conversation_id = int(link.get_attribute("data-conversation-link") or 0)
    assert conversation_state(conversation_id) == ("human", agent_id)
    expect(page.locator("#live-status")).to_contain_text("New conversation waiting")

    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf".*/console/conversations/{conversation_id}.*"))
    expect(page.locator("#messages")).to_contain_text("I want to talk to a human")
    expect(page.locator("#conversation")).to_contain_text("Why it escalated")
    assert tools.serious_violations(page) == []

    page.keyboard.press("r")
    expect(page.locator("#reply")).to_be_focused()
    page.keyboard.type("Hello, Ana here. How can I help?")
    expect(page.locator("#counter")).to_contain_text("32 characters · GSM-7 · 1 segment")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#messages")).to_contain_text("Hello, Ana here. How can I help?")
    expect(phone.locator("#thread")).to_contain_text("Hello, Ana here. How can I help?", timeout=20_000)

    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(page.locator("#conversation-state")).to_have_text("Bot answering")
    assert conversation_state(conversation_id) == ("bot", None)

    page.set_viewport_size({"width": 360, "height": 740})  # a phone: one pane, nothing wider than the screen
    expect(page.locator(".inbox-pane")).to_be_hidden()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 900})

    phone.fill("#body", "What are your opening hours?")
    phone.click("#compose button[type=submit]")
    expect(phone.locator("#thread li.in").last).to_contain_text(re.compile("9am|Sundays"), timeout=20_000)

    page.goto(f"{live_server}/console/supervisor")
    expect(page.locator("#fig-containment")).to_be_visible()
    assert tools.serious_violations(page) == []
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()


def test_first_log_in_enrols_two_factor_and_pages_pass_axe(live_server: str, page: Page) -> None:
    from core import accounts, db

    with db.session_scope() as session:
        accounts.create_user(session, email="new@example.com", password=PASSWORD, role="agent")

    page.goto(f"{live_server}/console/login")
    assert tools.serious_violations(page) == []
    page.fill("#email", "new@example.com")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/enrol**")
    expect(page.locator("#enrol-qr svg")).to_be_visible()
    expect(page.locator("#enrol-codes li")).to_have_count(8)
    assert tools.serious_violations(page) == []
    uri = page.locator("#enrol-uri").text_content() or ""
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    page.fill("#enrol-code", totp.now())
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/console/inbox")
    expect(page.locator("#agent-status select")).to_have_value("offline")

    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert tools.serious_violations(page) == []


def test_admin_deactivates_a_user_from_the_users_page_which_passes_axe(live_server: str, page: Page) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    agent_id, _ = create_console_user("ana@example.com", role="agent")
    tools.log_in(page, live_server, "boss@example.com", PASSWORD, secret)
    assert page.url == f"{live_server}/console/overview"  # the admin's home
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Users").click()
    page.wait_for_url(f"{live_server}/console/users")
    assert tools.serious_violations(page) == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate ana@example.com").click()
    expect(page.get_by_role("status").filter(has_text="is deactivated")).to_have_text("ana@example.com is deactivated.")
    expect(page.locator(f'tr[data-user="{agent_id}"]')).to_contain_text("deactivated")
    page.get_by_label("Temporary password for ana@example.com").fill("temporary pw 123")
    page.get_by_label("Temporary password for ana@example.com").press("Enter")
    expect(page.get_by_role("status").filter(has_text="Temporary")).to_contain_text("set for ana@example.com")
    assert tools.serious_violations(page) == []
