"""The QA page names the suites that have not run: it listed only those with a report, so a QA reader looking for
the agent's suite, never run here, found nothing and could not tell it from a suite that does not exist."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from eval import catalogue
from eval.report import Report
from tests.console.helpers import create_console_user, log_in
from tests.eval.stored import stored

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_a_suite_never_run_is_named_with_what_it_measures_and_how_to_run_it(app_client: TestClient) -> None:
    _, secret = create_console_user("qa@example.com", role="analyst")
    log_in(app_client, "qa@example.com", secret)
    page = app_client.get("/console/qa", headers=HTML)
    assert page.status_code == 200, page.text
    listed = re.findall(r'data-never-run="([^"]+)"><dt>\1</dt> <dd>([^<]+): <code>relais eval run --suite \1</code>',
                        page.text)
    # before: only "relais eval run --suite keywords" was named, the fifteen others nowhere
    assert {name: html.unescape(words) for name, words in listed} == catalogue.DESCRIPTIONS
    assert "Times in <span data-local-zone>UTC</span>." in page.text  # each run's time is in the browser's zone


def test_a_suite_that_ran_is_not_listed_as_not_run(app_client: TestClient) -> None:
    stored(Report(suite="keywords", summary={"accuracy": 0.99, "n": 126}, metrics={},
                  created_at="2026-11-30T00:00:00+00:00"), datetime(2026, 11, 30, tzinfo=UTC))
    _, secret = create_console_user("qa@example.com", role="analyst")
    log_in(app_client, "qa@example.com", secret)
    page = app_client.get("/console/qa", headers=HTML).text
    assert 'table data-suite="keywords"' in page
    unrun = set(re.findall(r'data-never-run="([^"]+)"', page))
    assert unrun == set(catalogue.DESCRIPTIONS) - {"keywords"}
    assert page.index('data-suite="keywords"') < page.index('id="never-run-title">Not run yet</h2>')


def test_a_report_page_that_is_gone_is_the_not_found_page_in_the_browser(app_client: TestClient) -> None:
    """A run's report page is opened from the QA page or an old link: one that is gone (a report from before they were
    published to the database, a mistyped stamp) showed the raw problem+json in the browser."""
    _, secret = create_console_user("qa@example.com", role="analyst")
    log_in(app_client, "qa@example.com", secret)
    gone = "/api/v1/eval/reports/redteam/20261201T183124Z/html"
    page = app_client.get(gone, headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")  # before: application/problem+json
    assert "No report &#39;redteam/20261201T183124Z&#39;: it may have been deleted, or the link is wrong." in page.text
    assert 'href="/console/qa" id="go-home"' in page.text
    api = app_client.get(gone, headers={"Accept": "application/json"})  # an API client keeps the problem
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
