"""What each role tripped on walking the console on `relais run`'s embedded defaults with the demo business
(December 2026), each checked in Chromium where it happened.

An agent read a customer's text that arrived while they had the thread as answered by the bot ("Bot decision:
answered from the knowledge base"), though the bot stays silent while a person has it. An analyst read the
Predictions page's expected spend and lifetime value as bare numbers ("13,210.55"), where the contact's page says EUR.
A mistyped address was "Something went wrong" or raw JSON. A marketer who mistyped the month of a campaign's day had it
scheduled and sent at once, and a refused confirm seemed to do nothing (its problems are a long page away).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from agent.runtime import DEFAULT_KB, get_runtime
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.factories import create_contact
from tests.console import browser as tools
from tests.console.helpers import conversation_state
from tests.console.test_browser import HOURS_DOC
from tests.console.test_campaign_wizard import wizard_audience

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


def _text(base_url: str, phone: str, body: str) -> None:
    """The customer texts the simulator, as its page does; returns once the pipeline has dealt with the text."""
    before = _dealt_with()
    out = httpx.post(f"{base_url}/api/v1/simulator/inbound", json={"from": phone, "body": body}, timeout=30)
    assert out.status_code < 300, out.text
    deadline = time.monotonic() + 120  # the first text loads the models: seconds on a busy machine
    while _dealt_with() == before:
        if time.monotonic() > deadline:
            pytest.fail(f"the pipeline did not deal with {body!r}")
        time.sleep(0.1)


def _dealt_with() -> int:
    """How many customer texts the pipeline has acted on (or left to a person)."""
    with db.session_scope() as session:
        analyses = session.scalars(select(Message.analysis).where(Message.direction == "in")).all()
    return sum(1 for analysis in analyses if "handled" in (analysis or {}))


def test_a_text_the_bot_left_to_the_agent_does_not_read_as_answered(
    live_server: str, runtime: Settings, page: Page
) -> None:
    get_runtime(runtime).knowledge.ingest_bytes(HOURS_DOC, filename="hours.md", kb=DEFAULT_KB)
    agent_id = tools.sign_in_as(page, live_server, "camille@example.com", "agent")  # Online: routed to her
    _text(live_server, "+33655550111", "I want to talk to a human")
    link = page.locator("[data-conversation-link]")
    expect(link).to_have_count(1, timeout=20_000)
    conversation_id = int(link.get_attribute("data-conversation-link") or 0)
    assert conversation_state(conversation_id) == ("human", agent_id)

    _text(live_server, "+33655550111", "What are your opening hours?")  # the bot could answer it, and must not
    page.goto(f"{live_server}/console/conversations/{conversation_id}")
    asked = page.locator("#messages li.in", has_text="What are your opening hours?")
    expect(asked).to_have_count(1)
    # before: "bot: reply 0.71" and "Bot decision: answered from the knowledge base", with no answer in the thread
    expect(asked).to_contain_text("bot: left to a person")
    expect(asked).to_contain_text("The bot did not answer: an agent had the conversation.")
    expect(asked).not_to_contain_text("Bot decision")
    expect(page.locator("#messages li.out")).to_have_count(1)  # only the wait notice: nothing answered it
    expect(page.locator("#messages li.in").first).to_contain_text("bot: escalate")  # the one it acted on

    page.get_by_role("button", name=re.compile("Hand back to the bot")).click()
    expect(page.locator("#conversation-state")).to_have_text("Bot answering")
    _text(live_server, "+33655550111", "When are you open on Saturday?")
    again = page.locator("#messages li.in", has_text="When are you open on Saturday?")
    expect(again).to_contain_text("Bot decision: answered from the knowledge base", timeout=20_000)
    expect(again).not_to_contain_text("left to a person")
    tools.fits(page)


def test_the_predictions_page_names_the_currency_of_its_amounts(live_server: str, page: Page) -> None:
    from contacts.models import Order
    from intelligence import store

    at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with db.session_scope() as session:
        ids = [create_contact(session, n).id for n in range(1, 7)]
        session.add_all(Order(contact_id=i, source="import", external_id=f"o{i}", ordered_at=at, currency="EUR",
                              total_micros=40_000_000) for i in ids)
        spend = store.register_version(session, kind="expected_spend", version="value-v1")
        store.write_predictions(session, spend, [store.Score(i, 1000.0 * n) for n, i in enumerate(ids, 1)],
                                computed_at=at)
        buy = store.register_version(session, kind="purchase_90d", version="propensity-v1")
        store.write_predictions(session, buy, [store.Score(i, 0.5) for i in ids], computed_at=at)
    tools.sign_in_as(page, live_server, "ada@example.com", "analyst")
    page.goto(f"{live_server}/console/predictions")
    spending = page.locator('tr[data-kind="expected_spend"] td')
    # before: "3,500.00", "1,500.00"... with no currency, where the contact's page says "3,500.00 EUR"
    expect(spending).to_contain_text(["6", "3,500.00 EUR", "1,500.00 EUR", "3,500.00 EUR", "5,500.00 EUR"])
    expect(page.locator('tr[data-kind="purchase_90d"] td')).to_contain_text(["6", "50 %"])  # a chance has none
    expect(page.locator('tr[data-kind="purchase_90d"]')).not_to_contain_text("EUR")
    tools.fits(page)


def test_a_mistyped_link_is_said_in_words_with_a_way_out(live_server: str, page: Page) -> None:
    tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
    # before: "Something went wrong" (500, logged as a server error) for an id that is not a number
    answer = page.goto(f"{live_server}/console/segments/abc")
    assert answer is not None and answer.status == 404
    expect(page.locator("#not-found-detail")).to_have_text(
        "This page does not exist: it may have been deleted, or the link is wrong."
    )
    # before: "Something went wrong" for a state no campaign has
    answer = page.goto(f"{live_server}/console/campaigns?state=sent")
    assert answer is not None and answer.status == 422
    expect(page.locator("h1")).to_have_text("This link is not right")
    expect(page.locator("#bad-link-problems")).to_have_text(
        "state: “sent” should be one of draft, scheduled, preparing, running, paused, completed, cancelled"
    )  # the pattern's words, not the regular expression
    tools.fits(page)
    page.locator("#plain-page").click()
    page.wait_for_url(f"{live_server}/console/campaigns")
    expect(page.locator("h1")).to_have_text("Campaigns")
    # before: the problem+json in the browser for a consent filter the contacts page refused
    answer = page.goto(f"{live_server}/console/contacts?consent=bogus")
    assert answer is not None and answer.status == 422
    expect(page.locator("#bad-link-problems")).to_contain_text("consent values are none, pending, opted_in, opted_out")
    page.locator("#go-home").click()
    page.wait_for_url(f"{live_server}/console/campaigns")
    # HTMX and API clients keep the problem+json
    refused = page.request.get(f"{live_server}/console/campaigns?state=sent", headers={"HX-Request": "true"})
    assert refused.status == 422 and refused.headers["content-type"].startswith("application/problem+json")


def test_a_day_that_has_passed_is_refused_and_a_refused_confirm_takes_the_marketer_to_why(
    live_server: str, page: Page
) -> None:
    from campaigns.models import Campaign

    wizard_audience()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/new")
    page.get_by_label("Campaign name").fill("Soldes de Noël")
    page.get_by_label("At a time in each recipient's own time zone").check()
    page.get_by_label("Day", exact=True).fill("2026-11-20")  # meant 2026-12-20
    page.get_by_label("Time in each recipient's zone").fill("10:00")
    page.get_by_label("Time in each recipient's zone").press("Tab")
    # before: "On 2026-11-20 at 10:00 in each recipient's own time zone", and confirming sent it at once
    problems = page.locator("#wizard-problems")
    expect(problems).to_contain_text(re.compile(r"Day: this day has passed \(today is \w{3} \d\d \w{3} \d{4} in "
                                                r"Europe/Paris\): choose a later one, or Now"))
    page.get_by_role("button", name="Confirm and schedule").click()
    page.get_by_role("button", name="Yes, go ahead").click()
    # before: the focus stayed on the button at the foot of the page and nothing seemed to happen
    expect(problems).to_be_focused()
    assert page.evaluate("() => document.getElementById('wizard-problems').getBoundingClientRect().top") < 100
    with db.session_scope() as session:
        assert session.scalars(select(Campaign)).all() == []  # nothing saved, nothing sent
    tools.fits(page)

    page.get_by_label("Day", exact=True).fill("2030-12-20")
    page.get_by_label("Day", exact=True).press("Tab")
    expect(problems).not_to_contain_text("Day:")
    page.get_by_role("button", name="Confirm and schedule").click()
    page.get_by_role("button", name="Yes, go ahead").click()
    page.wait_for_url(re.compile(r".*/console/campaigns/\d+\?done=scheduled"))


def test_the_attributes_page_fits_a_phone_with_a_long_label(live_server: str, page: Page) -> None:
    tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/console/attributes")
    page.get_by_label("Name", exact=True).fill("customer_id")
    page.get_by_label("Label (what it holds)").fill("the shop's customer number (orders match on it)")
    page.get_by_label("Segments may filter on it").check()
    page.get_by_role("button", name="Declare").click()
    expect(page.locator('[data-attribute="customer_id"] summary')).to_contain_text("orders match on it")
    # before: the label stayed on one line past the screen's edge (394 px wide at 390), the page had no stylesheet of
    # its own and the checkbox was drawn as a box across the form
    assert tools.page_width(page) <= 390
    box = page.locator("#new-segmentable").bounding_box()
    assert box is not None and box["width"] < 30
    tools.fits(page)


def test_an_ab_test_whose_test_group_holds_nobody_says_so(live_server: str, page: Page) -> None:
    ids = wizard_audience()  # three recipients
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/new")
    page.get_by_label("Campaign name").fill("Soldes A/B")
    page.get_by_label("An A/B test of two or more templates").check()
    page.get_by_label("Arm A template").select_option(str(ids["promo"]))
    page.get_by_label("Arm B template").select_option(str(ids["other"]))
    page.get_by_label("Test group (% of the audience split across the arms)").fill("1")
    page.get_by_label("Test group (% of the audience split across the arms)").press("Tab")
    # before: "3 wait for the A/B winner" alone; everyone then got arm A, chosen by a tie 4 hours later
    expect(page.locator("#waits")).to_contain_text(
        "0 of the 3 recipients fall in the test group (1 %) for 2 arms: no arm is tried, so the winner is a tie "
        "and the first arm goes to everyone; raise the test group's share, or send one template"
    )
    tools.fits(page)
    page.get_by_label("Test group (% of the audience split across the arms)").fill("100")
    page.get_by_label("Test group (% of the audience split across the arms)").press("Tab")
    expect(page.locator("#schedule-summary")).not_to_contain_text("fall in the test group")


def test_a_best_time_window_that_is_over_is_refused(live_server: str, page: Page) -> None:
    wizard_audience()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/new")
    page.get_by_label("Campaign name").fill("Meilleure heure")
    page.get_by_label("Send each recipient at their best hour within a window").check()
    page.get_by_label("Window from").fill("2026-11-01T09:00")
    page.locator("#best_end").fill("2026-11-02T20:00")
    page.locator("#best_end").press("Tab")
    # before: "As soon as you confirm. Each recipient then gets it at their best hour between 2026-11-01 09:00 and
    # 2026-11-02 20:00", nothing refused
    expect(page.locator("#wizard-problems")).to_contain_text(re.compile(
        r"Best time, until: this window has passed \(today is \w{3} \d\d \w{3} \d{4}, \d\d:\d\d in Europe/Paris\): "
        r"choose a later one"
    ))
    expect(page.locator("#problem-best_end")).to_contain_text("this window has passed")
    page.locator("#best_end").fill("2030-11-02T20:00")
    page.locator("#best_end").press("Tab")
    expect(page.locator("#wizard-problems")).not_to_contain_text("Best time, until")


def test_the_contacts_filters_take_the_language_and_country_as_the_list_names_them(
    live_server: str, page: Page
) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, first_name="Zoé", language="fr", country="FR")
        create_contact(session, 2, first_name="Emma", language="en", country="GB", timezone="Europe/London")
    tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
    page.goto(f"{live_server}/console/contacts")
    expect(page.locator("#contacts tbody tr")).to_have_count(2)
    emma = page.locator("#contacts tbody tr", has_text="Emma")
    expect(emma).to_contain_text("English")  # the list names them...
    expect(emma).to_contain_text("United Kingdom")
    page.get_by_label("Language").fill("English")  # ...so a marketer types what they read
    page.get_by_label("Country").fill("united kingdom")
    page.get_by_role("button", name="Search").click()
    # before: "No contact matches." for English, and the 422 page for a country longer than 2 letters
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    expect(page.locator("#contacts tbody tr")).to_contain_text("Emma")
    expect(page.get_by_label("Language")).to_have_value("en")
    expect(page.get_by_label("Country")).to_have_value("GB")
    page.get_by_label("Language").fill("")
    page.get_by_label("Country").fill("fr")  # a code in lower case
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    expect(page.locator("#contacts tbody tr")).to_contain_text("Zoé")
    tools.fits(page)


def test_a_segment_on_language_starts_empty_and_takes_the_name_the_pages_show(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        create_contact(session, 1, first_name="Zoé", language="fr", country="FR")
        create_contact(session, 2, first_name="Emma", language="en", country="GB", timezone="Europe/London")
    tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
    page.goto(f"{live_server}/console/segments/new")
    page.get_by_label("Name", exact=True).fill("Anglophones")
    page.get_by_label("Field, condition 1 of group 1").select_option("language")
    tools.settled(page)
    # before: the box kept the consent condition's "opted_in", so "Language is opted_in" matched nobody
    expect(page.get_by_label("Value, condition 1 of group 1")).to_have_value("")
    page.get_by_label("Value, condition 1 of group 1").fill("English")  # as the contacts list names it
    page.get_by_label("Value, condition 1 of group 1").press("Tab")
    expect(page.locator("#segment-count")).to_have_text("1")  # before: 0, the rule held "English"
    expect(page.locator("#segment-preview")).to_contain_text("Emma")
    tools.fits(page)
