"""A console address that matches no route, or fails outside one, is a page in words for a person in the browser.

Walking the console, a mistyped or stale link (/console/campaigns/abc, /console/variants/999, /console/nothing-here)
showed the raw application/problem+json: the router's own 404 and 405 went to ``api.errors`` and not through the
console's pages. API and HTMX clients keep the problem+json (api.console.page_load decides, for both).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from structlog.testing import capture_logs

from api import errors
from api.console import pwa
from core.settings import Settings
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}
GONE = "This page does not exist: it may have been deleted, or the link is wrong."


@pytest.mark.browser
def test_an_address_no_console_page_answers_is_the_not_found_page_with_a_way_home(
    live_server: str, page: Page
) -> None:
    tools.sign_in_as(page, live_server, "mona@example.com", "marketer")
    # before: {"type":"about:blank","title":"Not found","status":404,...} in the browser for each
    for path in ("/console/campaigns/abc", "/console/variants/999", "/console/nothing-here"):
        answer = page.goto(f"{live_server}{path}")
        assert answer is not None and answer.status == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        expect(page.locator("h1")).to_have_text("Nothing here")
        expect(page.locator("#not-found-detail")).to_have_text(GONE)
        expect(page.get_by_role("link", name="Templates")).to_be_visible()  # still signed in: her navigation
    tools.fits(page)
    page.locator("#go-home").click()
    page.wait_for_url(f"{live_server}/console/campaigns")  # a marketer's home, not the log-in page
    expect(page.locator("h1")).to_have_text("Campaigns")

    # a form's action opened as a link: the route only takes a POST (405)
    answer = page.goto(f"{live_server}/console/campaigns/wizard/save")
    assert answer is not None and answer.status == 405
    expect(page.locator("#not-found-detail")).to_have_text(GONE)

    # API and HTMX clients keep the problem+json, whatever they accept
    for path, headers in (("/console/nothing-here", {"HX-Request": "true", **HTML}), ("/api/v1/nothing-here", HTML),
                          ("/console/nothing-here", {"Accept": "application/json"})):
        refused = page.request.get(f"{live_server}{path}", headers=headers)
        assert refused.status == 404 and refused.headers["content-type"] == "application/problem+json", path
        assert refused.json()["title"] == "Not found"


@pytest.fixture
def lenient_client(runtime: Settings) -> Iterator[TestClient]:
    """The app as a browser meets it: a server error is an answer, not an exception raised into the test."""
    from api.app import create_app

    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client


def test_a_console_address_that_fails_outside_a_page_is_the_error_page_and_logged(
    lenient_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's pages catch their own failures; one outside them (the app manifest's route here) showed the
    500's problem+json to a person."""
    _, secret = create_console_user("mia@example.com", role="marketer")
    log_in(lenient_client, "mia@example.com", secret)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pwa, "brand", broken)  # a server-side bug: no real component fails on demand
    with capture_logs() as logs:
        # a logger of its own: ``relais.api``'s is cached at its first use (core.logging), before the capture when an
        # earlier test of the process logged through it
        monkeypatch.setattr(errors, "log", structlog.get_logger("relais.api"))
        page = lenient_client.get("/console/manifest.webmanifest", headers={**HTML, "X-Request-ID": "req-43"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in page.text and 'href="/console/campaigns" id="go-home"' in page.text
    assert ">req-43<" in page.text and "a bug" not in page.text
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["unhandled error"]

    fetched = lenient_client.get("/console/manifest.webmanifest")  # the browser's own fetch of the manifest
    assert fetched.status_code == 500 and fetched.headers["content-type"] == "application/problem+json"


def test_a_signed_out_visitor_on_a_wrong_address_is_sent_to_log_in(app_client: TestClient) -> None:
    page = app_client.get("/console/nothing-here", headers=HTML)
    assert page.status_code == 404 and GONE in page.text
    assert 'href="/console/login" id="go-home"' in page.text
