"""An admin checks a webhook from the console, in Chromium: sends it a test event, reads what the receiver answered
in its delivery log, gives it a new signing secret (shown once) and finds both in the audit log. The page only
added and deactivated webhooks: a receiver could not be tried, its log and replay were API-only, and a leaked
secret could only be replaced by adding the webhook again. The audit log names the webhook by its address."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from core import webhooks
from core.settings import get_settings
from tests.console import browser as tools
from tests.core.webhook_receiver import Receiver, serving

pytestmark = pytest.mark.browser


@pytest.fixture
def localhost_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the name ``localhost`` (``RELAIS_OUTBOUND_ALLOWED_HOSTS``), so the receiver is reachable while
    ``127.0.0.1`` stays refused. List it before ``live_server``."""
    monkeypatch.setenv("RELAIS_OUTBOUND_ALLOWED_HOSTS", "localhost")
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving()


def _received(receiver: Receiver, count: int) -> tuple[dict[str, str], bytes]:
    """The ``count``-th request the receiver got, once it has (the job pump sends it within seconds)."""
    deadline = time.monotonic() + 20
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return receiver.received[count - 1]


def test_admin_tests_a_webhook_reads_its_deliveries_and_rotates_its_secret(
    localhost_trusted: None, receiver: Receiver, live_server: str, page: Page
) -> None:
    url = f"http://localhost:{receiver.server.server_port}/hook"
    tools.sign_in_as(page, live_server, "hooks-admin@example.com", "admin")
    page.goto(f"{live_server}/console/webhooks")
    page.get_by_label("Address (URL)").fill(url)
    page.get_by_label(re.compile("^campaign.completed")).check()
    page.get_by_role("button", name="Add the webhook").click()
    first = page.get_by_label("Secret", exact=True).input_value()
    page.get_by_role("button", name="I have stored it: hide it").click()

    send = page.get_by_role("button", name=f"Send a test event to {url}")
    send.focus()
    page.keyboard.press("Enter")  # keyboard only
    expect(page.locator("#webhooks .done")).to_have_text(
        f"A test event is on its way to {url}: its delivery log says what the receiver answered.")
    page.get_by_role("link", name=f"Deliveries to {url}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Deliveries to {url}")
    row = page.locator("[data-delivery]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "delivered", timeout=20_000)  # re-drawn while it waits
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text(re.compile(r"delivered .*: HTTP 200 in \d+ ms"))
    headers, body = _received(receiver, 1)
    assert webhooks.verify(first, headers["relais-signature"], body)
    tools.fits(page)

    receiver.statuses = [503]  # the receiver is down: said, with the next try
    page.get_by_role("button", name=re.compile("^Send again the webhook.test event of ")).click()
    expect(page.locator("#deliveries .done")).to_have_text(
        "The webhook.test event is sent again: a new delivery, first in the list, with 24 hours of attempts of its "
        "own.")
    # before: the one row was reset in place ("trying again Last try: HTTP 200", its answer lost); now the new
    # delivery comes first and the first keeps its outcome
    expect(row).to_have_count(2)
    again, first_sent = row.nth(0), row.nth(1)
    expect(again).to_contain_text(re.compile(r"trying again Last try: HTTP 503 in \d+ ms; next at"), timeout=20_000)
    expect(again.get_by_role("rowheader")).to_have_text("webhook.test sent again")
    expect(first_sent).to_contain_text(re.compile(r"delivered .*: HTTP 200 in \d+ ms"))
    expect(first_sent.locator('td[data-label="Attempts"]')).to_have_text("1")
    assert json.loads(_received(receiver, 2)[1])["id"] == json.loads(body)["id"]  # the same event, sent again
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})  # the outcome in sight, not scrolled away
    box = again.locator("td.outcome").bounding_box()
    # under the event, full width (a long network error in a third column ran out of sight)
    assert box is not None and box["x"] < 40 and box["x"] + box["width"] <= tools.PHONE_WIDTH
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("link", name="← All webhooks").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"New signing secret for {url}").click()
    title = page.locator("#webhook-secret-title")
    expect(title).to_have_text(f"The webhook to {url} has a new signing secret: copy it now, you will not see it again")
    expect(title).to_be_focused()
    second = page.get_by_label("Secret", exact=True).input_value()
    assert re.fullmatch(r"[0-9a-f]{64}", second) and second != first
    tools.fits(page)
    page.reload()  # shown once: gone from the page
    expect(page.locator("#webhook-secret")).to_have_count(0)
    assert second not in page.content()

    page.get_by_role("button", name=f"Send a test event to {url}").click()
    expect(page.locator("#webhooks .done")).to_contain_text("A test event is on its way")
    headers, body = _received(receiver, 3)
    assert webhooks.verify(second, headers["relais-signature"], body)
    assert not webhooks.verify(first, headers["relais-signature"], body)

    page.locator("[data-webhook]").get_by_role("link", name=re.compile("^History")).click()
    entries = page.locator("tbody tr")
    expect(entries.filter(has_text="Sent a test event to a webhook")).to_have_count(2)
    expect(entries.filter(has_text="Gave a webhook a new signing secret")).to_have_count(1)
    # before: on "webhook delivery 1", unlinked, and missing from this webhook's History
    expect(entries.filter(has_text="Sent a webhook delivery again")).to_contain_text("replay of: 1")
    expect(entries.first).to_contain_text("hooks-admin@example.com")
    # named as the admin knows it (it read "webhook subscription 1"), linking to its deliveries
    expect(page.locator("#audit-about")).to_contain_text(f"Only the entries about webhook to {url}")
    entries.first.get_by_role("link", name=f"webhook to {url}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Deliveries to {url}")
