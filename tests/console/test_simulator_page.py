"""The simulator's browser phone, checked in Chromium against a real server.

The page asked for its phone's messages every 1.5 s from the moment it opened, though an anonymous phone may
read them only with the token its first text returns: the network log filled with 401s until the visitor texted.
It now asks once it may read (a token, or a signed-in user, who reads any phone), and the messages stay
unreadable without that token (tests/api/test_simulator.py).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Request, expect

from tests.console import browser as tools

pytestmark = pytest.mark.browser

MESSAGES = "/api/v1/simulator/messages"
#: a little over four of the page's polls (every 1.5 s)
POLLS = 6_500


def _asked(page: Page) -> list[Request]:
    """The page's requests for its messages, from now on (each read after :func:`_settle`)."""
    asked: list[Request] = []
    page.on("request", lambda request: asked.append(request) if MESSAGES in request.url else None)
    return asked


def _settle(page: Page) -> None:
    """Every request the page made so far has been reported: one issued after them has come back."""
    page.evaluate("() => fetch('/healthz').then((r) => r.status)")


def test_a_phone_that_has_not_texted_asks_for_nothing_then_reads_its_messages(live_server: str, page: Page) -> None:
    asked = _asked(page)
    page.clock.install()
    page.goto(f"{live_server}/simulator")
    page.clock.run_for(POLLS)
    _settle(page)
    assert asked == []  # before: one 401 as the page opened, then one every 1.5 s
    page.fill("#body", "Hello")
    page.click("#compose button[type=submit]")
    expect(page.locator("#thread li.out")).to_have_count(1)  # the text went: its token is kept
    with page.expect_response(lambda response: MESSAGES in response.url) as polled:
        page.clock.run_for(1_600)
    assert polled.value.status == 200
    assert polled.value.request.headers.get("x-simulator-token")
    page.fill("#phone", "+33655555501")  # another customer, who has not texted from this browser
    page.dispatch_event("#phone", "change")
    page.clock.run_for(POLLS)
    _settle(page)
    assert [r.url for r in asked if "33655555501" in r.url] == []
    statuses = [response.status for response in (r.response() for r in asked) if response is not None]
    assert statuses and set(statuses) == {200}, statuses


def test_a_signed_in_user_reads_any_phone_at_once(live_server: str, page: Page) -> None:
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    with page.expect_response(lambda response: MESSAGES in response.url) as polled:
        page.goto(f"{live_server}/simulator")
    assert polled.value.status == 200 and "x-simulator-token" not in polled.value.request.headers


def test_a_token_the_server_refuses_is_forgotten_until_the_next_text(live_server: str, page: Page) -> None:
    """A token from before the server's secret changed is refused (403) at every poll: it is asked once, then
    dropped, and the phone waits for its next text's token."""
    page.goto(f"{live_server}/simulator")
    phone = page.input_value("#phone")
    page.evaluate("(phone) => localStorage.setItem('relais-sim-tokens', JSON.stringify({[phone]: '1.forged'}))", phone)
    asked = _asked(page)
    page.clock.install()
    page.reload()
    page.clock.run_for(POLLS)
    _settle(page)
    statuses = [response.status for response in (r.response() for r in asked) if response is not None]
    assert statuses == [403], statuses
    assert page.evaluate("() => localStorage.getItem('relais-sim-tokens')") == "{}"


def test_enter_sends_and_shift_enter_starts_a_new_line(live_server: str, page: Page) -> None:
    """Enter only began a new line: a customer typing as on a phone waited for an answer to a text never sent."""
    page.goto(f"{live_server}/simulator")
    page.fill("#phone", "+33655555502")
    page.dispatch_event("#phone", "change")
    page.click("#body")
    page.keyboard.type("Bonjour")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("vous livrez en Belgique ?")
    expect(page.locator("#thread li.out")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#thread li.out")).to_have_count(1)
    expect(page.locator("#thread li.out")).to_contain_text("Bonjour\nvous livrez en Belgique ?")
    expect(page.locator("#body")).to_have_value("")
    page.keyboard.press("Enter")  # an empty box sends nothing: the form asks for a text
    expect(page.locator("#thread li.out")).to_have_count(1)
