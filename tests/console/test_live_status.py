"""An agent's reply shows its delivery status as it changes, without waiting for the thread's 20 s poll."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.console import browser as tools
from tests.console.helpers import assign, escalated_conversation

pytestmark = pytest.mark.browser


def test_a_reply_shows_delivered_on_the_open_thread_at_once(live_server: str, browser: Browser) -> None:
    """The reply read "queued" until the next poll (20 s), so the agent could not tell a text on its way from one
    stuck, and a failure showed late. Its send and its delivery report are announced (``message.status``) and the
    open thread re-draws itself; the inbox is not re-drawn for them."""
    conversation = escalated_conversation("+33612340077", "Ma lampe est arrivée cassée", language="fr")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    assign(conversation, tools.sign_in_as(page, live_server, "jonas@example.com", "agent"))
    page.goto(f"{live_server}/console/conversations/{conversation}")
    page.wait_for_selector("body[data-stream-open]")
    page.locator("#reply").fill("Désolé ! Une nouvelle lampe part aujourd'hui.")
    page.get_by_role("button", name="Send", exact=True).click()
    status = page.locator("#messages li.msg.out", has_text="nouvelle lampe part").locator(".msg-head .badge")
    expect(status).to_have_text("delivered", timeout=5_000)  # the simulator reports sent, then delivered
    context.close()
