"""What a support agent tripped on walking the demo in Chromium (docs/console.md): a conversation
once closed left the inbox with no way back to it, so the customer who texts "as I said last week"
could not be looked up. The inbox's search finds it by number, in any form, or by name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from core import db
from tests.console import browser as tools
from tests.console.helpers import assign, escalated_conversation

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


def test_an_agent_closes_a_conversation_then_finds_it_by_number_and_by_name(live_server: str, page: Page) -> None:
    from contacts.models import Contact
    from conversations.models import Conversation

    closed = escalated_conversation("+33655550101", "Mon colis est arrivé abîmé", language="fr")
    other = escalated_conversation("+33655550199", "Where is my order?")
    with db.session_scope() as session:
        conversation = session.get(Conversation, closed)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.name = "Zoé Martin"
    tools.sign_in_as(page, live_server, "camille@example.com", "agent")
    page.goto(f"{live_server}/console/conversations/{closed}")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#conversation-state")).to_have_text("Closed")
    page.goto(f"{live_server}/console/inbox?view=all")
    expect(page.locator(f'[data-conversation-link="{closed}"]')).to_have_count(0)  # the inbox lists open ones only

    page.get_by_label("Find a conversation, closed ones too").fill("06 55 55 01 01")  # the national form
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/inbox/search?q=*")
    expect(page.locator("#search-title")).to_have_text("1 conversation for “06 55 55 01 01”")
    found = page.locator(f'#search-results [data-conversation-link="{closed}"]')
    expect(found).to_contain_text("Zoé Martin")
    expect(found).to_contain_text("Closed")
    expect(found).to_contain_text("Mon colis est arrivé abîmé")
    tools.fits(page)

    page.get_by_label("Find a conversation, closed ones too").fill("zoe")  # no accent, lower case
    page.keyboard.press("Enter")
    expect(page.locator("#search-results [data-conversation-link]")).to_have_count(1)
    expect(page.locator(f'#search-results [data-conversation-link="{other}"]')).to_have_count(0)
    page.locator(f'[data-conversation-link="{closed}"]').click()
    page.wait_for_url(f"**/console/conversations/{closed}*")
    expect(page.locator("#messages")).to_contain_text("Mon colis est arrivé abîmé")

    page.goto(f"{live_server}/console/inbox/search?q=nobody")
    expect(page.locator("#search-empty")).to_have_text("No conversation with a contact matching “nobody”.")


def test_the_reply_counter_names_what_forces_ucs2_and_says_when_a_paste_was_cut(live_server: str, page: Page) -> None:
    """"Entschuldigung 😊" read "UCS-2 · 1 segment" with no word on why (the emoji more than halves a
    segment); a pasted 2,000-character reply was cut to 1,600 in silence ("… · 83 left")."""
    conversation = escalated_conversation("+4915112345678", "Ich will sofort mein Geld zurück!", language="de")
    tools.sign_in_as(page, live_server, "jonas@example.com", "agent")
    page.goto(f"{live_server}/console/conversations/{conversation}")
    page.keyboard.press("r")
    page.keyboard.type("Entschuldigung 😊 wir erstatten den Betrag")
    expect(page.locator("#counter")).to_have_text(
        "41 characters · UCS-2 · 1 segment · 28 left · UCS-2 because of 😊 (U+1F60A)")
    page.locator("#reply").fill("")
    page.keyboard.insert_text("Guten Tag. " * 200)  # a paste of 2,200 characters
    expect(page.locator("#reply")).to_have_value(("Guten Tag. " * 200)[:1600])
    expect(page.locator("#counter")).to_have_text(
        "1600 characters · GSM-7 · 11 segments · 83 left · the most a reply holds (1,600): anything longer is cut")
    tools.fits(page)


def test_the_inbox_views_fit_on_one_line_of_a_laptop_screen(live_server: str, page: Page) -> None:
    """At 1280×800 "All" wrapped under Mine, Unassigned and Team (seen walking the demo)."""
    for n in range(12):  # two-digit counts, the widest the tabs usually are
        escalated_conversation(f"+336555502{n:02d}", "Where is my order?")
    page.set_viewport_size({"width": 1280, "height": 800})
    tools.sign_in_as(page, live_server, "camille@example.com", "agent")
    page.goto(f"{live_server}/console/inbox?view=unassigned")
    expect(page.locator("#count-unassigned")).to_have_text("12")
    tops = page.locator("#inbox nav.tabs a").evaluate_all("links => links.map(a => a.getBoundingClientRect().top)")
    assert len(tops) == 4 and len(set(tops)) == 1, tops


def test_a_colleague_taking_the_conversation_shows_on_the_other_agents_open_page(
    live_server: str, browser: Browser
) -> None:
    """Two agents had one conversation open; when Camille took it, Jonas's page still read "Waiting for an
    agent" (the live refresh re-drew the thread, not the header), so he typed a reply only to be told
    "Camille has this conversation". The header's standing now follows the live events too."""
    conversation = escalated_conversation("+34612340002", "Hola, quiero hablar con una persona", language="es")
    pages: list[Page] = []
    for email in ("jonas@example.com", "camille@example.com"):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        pages.append(context.new_page())
        tools.sign_in_as(pages[-1], live_server, email, "agent")
        pages[-1].goto(f"{live_server}/console/conversations/{conversation}")
    jonas, camille = pages
    jonas.wait_for_selector("body[data-stream-open]")
    expect(jonas.locator("#conversation-state")).not_to_contain_text("With")
    camille.get_by_role("button", name="Assign to me").click()
    expect(camille.locator("#conversation-state")).to_have_text("With you")
    expect(jonas.locator("#conversation-state")).to_have_text("With camille")
    expect(jonas.locator("#conversation-standing")).to_have_count(1)  # swapped in place, not added
    tools.fits(jonas)
    for page in pages:
        page.context.close()


def test_a_colleagues_reply_and_note_show_at_once_on_the_open_thread_and_in_the_inbox(
    live_server: str, browser: Browser
) -> None:
    """Only the escalation, assignment and closing events reached an open page: a reply or a note written by the
    agent who has the conversation reached a colleague's (or a supervisor's) open thread and inbox at the next
    20 s poll, so the colleague could answer the customer a second time. Replies and notes are announced too."""
    conversation = escalated_conversation("+34612340003", "Hola, mi lámpara llegó rota", language="es")
    pages: list[Page] = []
    ids: list[int] = []
    for email in ("jonas@example.com", "camille@example.com"):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        pages.append(context.new_page())
        ids.append(tools.sign_in_as(pages[-1], live_server, email, "agent"))
    jonas, camille = pages
    assign(conversation, ids[0])
    jonas.goto(f"{live_server}/console/conversations/{conversation}")
    camille.goto(f"{live_server}/console/conversations/{conversation}?view=all")
    camille.wait_for_selector("body[data-stream-open]")
    jonas.locator("#reply").fill("Lo siento mucho: le enviamos otra hoy mismo.")
    jonas.get_by_role("button", name="Send", exact=True).click()
    expect(jonas.locator("#messages")).to_contain_text("le enviamos otra hoy mismo")
    thread = camille.locator("#messages")
    expect(thread).to_contain_text("le enviamos otra hoy mismo", timeout=5_000)  # the poll is every 20 s
    jonas.locator("#note").fill("Replacement sent, order 1042")
    jonas.get_by_role("button", name="Add note").click()
    expect(camille.locator(".notes")).to_contain_text("Replacement sent, order 1042", timeout=5_000)
    for page in pages:
        page.context.close()
