"""What an analyst tripped on walking the demo in Chromium: the models' predictions were reachable
only one named contact at a time, through the API (GET /api/v1/contacts/{id}/predictions), and not
at all in the console. The Predictions page gives them across contacts, naming nobody."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console import browser as tools
from tests.intelligence.scoring_helpers import six_scored_contacts

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


def test_an_analyst_reads_the_predictions_across_contacts(live_server: str, page: Page) -> None:
    six_scored_contacts(
        top_chance=0.999, purchase_version="propensity-v3", spend_version="value-v1",
        at=datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
    )
    tools.sign_in_as(page, live_server, "ada@example.com", "analyst")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Predictions").click()
    page.wait_for_url(f"{live_server}/console/predictions")
    buying = page.locator('tr[data-kind="purchase_90d"]')
    expect(buying).to_contain_text("Probability of buying in the next 90 days")
    cells: list[str | re.Pattern[str]] = ["6", "47 %", "12 %", "45 %", "85 %", re.compile(r"propensity-v3,\s+Jun 01")]
    expect(buying.locator("td")).to_have_text(cells)
    expect(page.locator('table[data-bands="purchase_90d"] td')).to_have_text(["2", "1", "2", "1"])
    spending = page.locator('tr[data-kind="expected_spend"]')
    expect(spending.locator("td")).to_contain_text(["2", "n/a", "n/a", "n/a", "n/a"])
    expect(spending).to_contain_text("fewer than 5 contacts: figures withheld")
    # with why: "none yet" alone left the analyst to guess whether anything would ever fill the row
    expect(page.locator('tr[data-kind="clv"]')).to_contain_text(
        "none yet: the last scoring of the shop's orders stored none of this kind")
    expect(page.locator('tr[data-kind="uplift"]')).to_contain_text(
        "none yet: no uplift model has been trained yet: it learns from past adaptive campaigns' control groups")
    expect(page.locator('tr[data-kind="response"]')).to_contain_text("past campaign texts: 0 campaign texts")
    expect(page.locator("main")).not_to_contain_text("+33")  # nobody named, no number
    tools.fits(page)


def test_the_supervisor_page_says_n_a_with_why_and_offers_its_periods(live_server: str, page: Page) -> None:
    """Figures with nothing to measure read "—" (and the oldest wait "0.0 min" with nobody waiting); the
    window could be changed only by typing ?hours=2160 into the address, then read "Last 2160 hours"."""
    tools.sign_in_as(page, live_server, "ada@example.com", "analyst")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Supervisor").click()
    expect(page.locator("#sup-period")).to_have_text("Last 24 hours.")
    expect(page.locator("#fig-oldest")).to_have_text("n/a")
    expect(page.locator("#fig-handle")).to_have_text("n/a")
    expect(page.locator("#fig-containment")).to_have_text("n/a")
    expect(page.locator("#supervisor")).to_contain_text("nothing closed by an agent")
    expect(page.locator("#supervisor")).not_to_contain_text("—")
    page.get_by_label("Period").select_option(label="Last 90 days")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/console/supervisor?hours=2160")
    expect(page.locator("#sup-period")).to_have_text("Last 90 days.")
    tools.fits(page)
