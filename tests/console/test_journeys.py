"""Each role's journey through the console in Debian's Chromium, against a real server.

Marketer, analyst and admin land on their own home with their own navigation; the agent finds the
waiting queue sorted by urgency with names, manages a canned response and uses it from a phone-sized
screen whose reply box stays in view; the landing page and the simulator's per-browser numbers.
Every page visited passes axe-core (no serious or critical WCAG 2.1 AA violation) and never scrolls
sideways (``document.documentElement.scrollWidth``) at 360 px, nor at 1,366 px for the QA page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from api.console.roles import NAV, navigation
from contacts.models import Contact
from conversations.models import Conversation
from core import db
from core.rbac import Role
from core.settings import Settings
from eval.report import Report
from handoff.models import Escalation
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, create_console_user, escalated_conversation
from tests.eval.stored import stored

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _fits(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 740 if width <= 400 else 900})
    assert tools.page_width(page) <= width, page.url
    assert tools.serious_violations(page) == [], page.url


def _nav(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("header nav[aria-label=Console] a").all_inner_texts()]


def test_marketer_lands_on_campaigns_and_meets_a_friendly_403(live_server: str, page: Page) -> None:
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    assert page.url == f"{live_server}/console/campaigns"
    assert _nav(page) == [item.label for item in navigation(Role.MARKETER)]  # the roles table, drawn
    assert _nav(page)[:3] == ["Campaigns", "Contacts", "Segments"] and "Inbox" not in _nav(page)
    _fits(page, 360)

    page.goto(f"{live_server}/console/inbox")
    expect(page.get_by_role("heading", name="This page is not part of your role")).to_be_visible()
    assert "application/json" not in (page.evaluate("() => document.contentType") or "")
    _fits(page, 360)
    page.get_by_role("link", name="Go to your home page").click()
    page.wait_for_url(f"{live_server}/console/campaigns")


def test_analyst_lands_on_qa_reports_that_fit_the_window(live_server: str, runtime: Settings, page: Page) -> None:
    figures = {f"figure_{n:02d}.accuracy_on_a_long_metric_name": 0.5 + n / 100 for n in range(30)}
    for day in (1, 2):
        stored(Report(suite="keywords", summary=figures, metrics={}, created_at=f"2026-03-0{day}T00:00:00+00:00"),
               datetime(2026, 3, day, tzinfo=UTC))
    tools.sign_in_as(page, live_server, "ada@example.com", "analyst")
    assert page.url == f"{live_server}/console/qa"
    assert _nav(page) == ["Supervisor", "Campaigns", "QA reports", "Predictions"]
    expect(page.locator("table[data-suite=keywords] tbody tr")).to_have_count(2)
    _fits(page, 1366)  # 30 figures: the table scrolls inside its box, the page does not
    _fits(page, 360)
    page.goto(f"{live_server}/console/supervisor")
    _fits(page, 360)


def test_admin_lands_on_the_overview(live_server: str, page: Page) -> None:
    escalated_conversation("+33611113301")
    tools.sign_in_as(page, live_server, "root@example.com", "admin")
    assert page.url == f"{live_server}/console/overview"
    expect(page.locator("#ov-waiting")).to_have_text("1")
    assert _nav(page) == [item.label for item in NAV]  # every page, in menu order
    _fits(page, 1366)
    _fits(page, 360)


def _prioritise(conversation_id: int, priority: int, *, waited_minutes: int, name: str | None) -> None:
    with db.session_scope() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == conversation_id)).one()
        escalation.priority = priority
        escalation.sla_due_at = datetime.now(UTC) + timedelta(minutes=10 - waited_minutes)
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.name = name


def test_agent_works_the_queue_by_priority_with_a_canned_reply_on_a_phone(live_server: str, page: Page) -> None:
    normal = escalated_conversation("+33611114401", "Where is my order 1042?")
    urgent = escalated_conversation("+33611114402", "The lamp arrived broken, I am furious")
    waited = escalated_conversation("+33611114403", "Can a person call me back?")
    _prioritise(normal, 3, waited_minutes=1, name="Zoé Martin")
    _prioritise(urgent, 1, waited_minutes=0, name=None)
    _prioritise(waited, 3, waited_minutes=8, name="Léa Petit")
    _, secret = create_console_user("cam@example.com", status="offline")

    tools.log_in(page, live_server, "cam@example.com", PASSWORD, secret)
    assert re.search(r"/console/inbox$", page.url)  # nothing of their own: the waiting queue, and a prompt
    expect(page.locator("#inbox")).to_have_attribute("data-view", "unassigned")
    expect(page.locator("#offline-notice")).to_contain_text("3")
    rows = page.locator("[data-conversation-link]")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-conversation-link") for i in range(3)] == [
        str(urgent), str(waited), str(normal)
    ]
    expect(rows.nth(0).locator(".who")).to_have_text("+33*******02")
    expect(rows.nth(1).locator(".who")).to_have_text("Léa Petit")
    expect(rows.nth(0).locator(".excerpt")).to_have_text("The lamp arrived broken, I am furious")
    expect(rows.nth(0).locator(".why")).to_have_text("Asked for a person")
    zone = page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone").replace("_", " ")
    expect(page.locator(".order-note [data-local-zone]")).to_have_text(zone)
    assert tools.serious_violations(page) == []

    page.get_by_role("link", name="Canned responses").click()
    page.wait_for_url(f"{live_server}/console/canned")
    page.get_by_label("Title").fill("Broken on arrival")
    page.locator("#new-body").fill("So sorry: we send a new one today, no need to return the broken lamp.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="is saved")).to_be_visible()
    _fits(page, 360)

    page.goto(f"{live_server}/console/conversations/{urgent}")
    page.keyboard.press("a")
    expect(page.locator("#conversation-state")).to_have_text("With you")
    expect(page.locator("#reply")).to_be_in_viewport()  # the composer sticks to the bottom of the phone
    page.get_by_label("Canned response").select_option(label="Broken on arrival")
    expect(page.locator("#reply")).to_have_value(re.compile("^So sorry: we send a new one today"))
    page.keyboard.press("Control+Enter")
    expect(page.locator("#messages")).to_contain_text("no need to return the broken lamp")
    assert tools.page_width(page) <= PHONE["width"]
    assert tools.serious_violations(page) == []


def test_landing_page_leads_to_the_console_simulator_and_docs(live_server: str, page: Page) -> None:
    page.goto(f"{live_server}/")
    for name in ("Open the console", "Try the phone simulator", "Read the API documentation"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    _fits(page, 360)
    page.keyboard.press("Tab")  # the skip link, then the brand, then the console link: all reachable
    page.get_by_role("link", name="Open the console").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/login**")


def test_each_browser_gets_its_own_simulator_number(live_server: str, browser: Browser) -> None:
    numbers = []
    for _ in range(2):
        context = browser.new_context()
        phone = context.new_page()
        phone.goto(f"{live_server}/simulator")
        number = phone.locator("#phone").input_value()
        assert re.fullmatch(r"\+3361\d{7}", number)
        phone.reload()
        assert phone.locator("#phone").input_value() == number  # kept in this browser
        numbers.append(number)
        context.close()
    assert numbers[0] != numbers[1]
