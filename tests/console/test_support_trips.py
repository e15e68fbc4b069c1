"""What a support agent tripped on walking the console in Chromium (December 2026), each checked where it happened.

The demo's agents had no availability profile until they set a status, so the Supervisor page said "No agents yet."
and a conversation's Transfer menu offered nobody, though agent users existed. The summary of a thread the agent had
handed back to the bot, or closed, still said "Escalated: …", then said when in UTC, and a closed thread's header
read "Closed with camille". A marketer read the contact's page in UTC ("When (UTC)")
while every other page of the console gives times in the browser's zone. An analyst read a run's report page with
unrounded figures ("24.885103823460234") and no way back to the QA page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from core import accounts, db
from core.settings import Settings
from eval.report import Report
from tests.campaigns.factories import create_contact
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, assign, escalated_conversation
from tests.eval.stored import stored

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


def test_agents_who_never_set_a_status_can_be_transferred_to_and_are_on_the_supervisor_page(
    live_server: str, page: Page
) -> None:
    with db.session_scope() as session:  # an agent as the demo makes them: a user, no profile
        accounts.create_user(session, email="lea@example.com", password=PASSWORD, role="agent", name="Léa Martin")
    camille = tools.sign_in_as(page, live_server, "camille@example.com", "agent")
    conversation_id = escalated_conversation("+33655550121")
    assign(conversation_id, camille)
    page.goto(f"{live_server}/console/conversations/{conversation_id}")
    # before: only "Choose…" (Léa had no profile) and the teams; listed, she can be chosen once she is signed in
    # (tests/console/test_support_desk.py)
    expect(page.locator("#transfer-target option")).to_contain_text(["Choose…", "Léa Martin (not signed in)"])

    page.goto(f"{live_server}/console/supervisor")
    # before: "No agents yet." beside Camille alone (she had set her status)
    expect(page.locator("#supervisor tbody").first).to_contain_text("Léa Martin")
    expect(page.locator("#supervisor tr", has_text="Léa Martin")).to_contain_text("offline")
    tools.fits(page)


def test_the_summary_says_the_thread_was_handed_back_or_closed_in_the_readers_time(
    live_server: str, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="America/New_York",
                                  locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        camille = tools.sign_in_as(page, live_server, "camille@example.com", "agent")
        conversation_id = escalated_conversation("+33655550122", "My parcel never came, I want a person")
        assign(conversation_id, camille)
        page.goto(f"{live_server}/console/conversations/{conversation_id}")
        summary = page.locator("section[aria-labelledby=summary-title] p")
        expect(summary).to_contain_text("Escalated: Human requested.")

        page.get_by_role("button", name=re.compile("Hand back to the bot")).click()
        expect(page.locator("#conversation-state")).to_have_text("Bot answering")
        page.reload()
        # before: "Escalated: Human requested." after the hand-back, as if a person were still to come; then the
        # moment in UTC ("at 2026-12-01 14:42 UTC") on a page whose every other time is in the reader's zone
        local = r"\d\d \w{3}, \d\d:\d\d"  # as the messages' times, in America/New_York
        expect(summary).to_contain_text(
            re.compile(rf"Handed back to the bot at {local} by camille \(it had been escalated: Human requested\)\.")
        )
        expect(summary).not_to_contain_text("Escalated:")
        expect(summary).not_to_contain_text("UTC")
        when = summary.locator("time")
        expect(when).to_have_attribute("title", "America/New_York")
        handed_back = datetime.fromisoformat(when.get_attribute("datetime") or "")
        shown = handed_back.astimezone(ZoneInfo("America/New_York")).strftime("%d %b, %H:%M")
        expect(when).to_have_text(shown)

        assign(conversation_id, camille)  # she takes it again, then closes it
        page.reload()
        page.get_by_role("button", name=re.compile("^Close")).first.click()
        expect(page.locator("#conversation-state")).to_have_text("Closed")
        # before: "Closed with camille", as if she still had it; now who closed it, when (her zone) and how
        standing = page.locator("#conversation-standing")
        expect(standing).to_have_text(re.compile(rf"^\s*Closed\s+by camille on {local} as resolved\s*$"))
        page.reload()
        expect(standing).to_have_text(re.compile(rf"^\s*Closed\s+by camille on {local} as resolved\s*$"))
        expect(summary).to_contain_text(re.compile(rf"Closed at {local} by camille as resolved"))
        expect(page.locator("#conversation")).not_to_contain_text("UTC")
        tools.fits(page)
    finally:
        context.close()


def test_the_contact_page_gives_times_in_the_browsers_zone(live_server: str, browser: Browser) -> None:
    from contacts.models import Order

    with db.session_scope() as session:
        contact = create_contact(session, 7, first_name="Inès")
        session.add(Order(contact_id=contact.id, source="import", external_id="o-7", currency="EUR",
                          ordered_at=datetime(2025, 11, 20, 9, 30, tzinfo=UTC), total_micros=40_000_000))
        contact_id = contact.id
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="America/New_York",
                                  locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
        page.goto(f"{live_server}/console/contacts/{contact_id}")
        # before: "2025-11-20 09:30" under "When (UTC)", where the inbox and the thread say the browser's zone
        expect(page.locator("#order-history tbody td").nth(1)).to_have_text("20 Nov 2025, 04:30")
        expect(page.locator("#contact-zone")).to_have_text("Times in America/New York.")
        expect(page.locator("#order-history thead")).not_to_contain_text("UTC")
        local = re.compile(r"^\d\d \w{3} \d{4}, \d\d:\d\d$")  # the opt-in, as the order: the browser's zone
        expect(page.locator("#consent-history tbody td").first).to_have_text(local)
        expect(page.locator("#contact-facts")).not_to_contain_text("UTC")
        tools.fits(page)
    finally:
        context.close()


def test_a_run_report_rounds_its_figures_as_the_qa_page_and_links_back_to_it(
    live_server: str, runtime: Settings, page: Page
) -> None:
    report_id = stored(Report(suite="agent", summary={"accuracy": 0.9, "latency_p50_ms": 24.885103823460234, "n": 40},
                              metrics={}, created_at="2026-11-30T00:00:00+00:00"), datetime(2026, 11, 30, tzinfo=UTC))
    tools.sign_in_as(page, live_server, "ada@example.com", "analyst")
    page.goto(f"{live_server}/console/qa")
    row = page.locator(f'tr[data-report="{report_id}"]')
    expect(row).to_contain_text("24.9")  # the QA page's rounding: a time to a tenth (eval.figures.fmt)
    row.get_by_role("link", name=re.compile("^Report")).click()
    page.wait_for_url(f"**/eval/reports/{report_id}/html")
    # before: "24.885103823460234" on the card, and no link to the console
    expect(page.locator(".card", has_text="Median time (ms)").locator(".value")).to_have_text("24.9")
    expect(page.locator("main")).not_to_contain_text("24.88")
    page.locator("#qa-link").click()
    page.wait_for_url(f"{live_server}/console/qa")
    expect(page.locator("h1")).to_have_text("QA reports")
