"""The marketer's whole job in Chromium, one page after the other as a person would do it: import
a messy French CSV, build a segment of it, write a template, have variants written and approve one,
set up a campaign of it in the wizard, send it and read its report. Each page's details are tested
in its own module; this walk proves the pages lead into each other."""

from __future__ import annotations

import re
import time as time_module
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import select

from campaigns.brand import update_profile
from campaigns.models import Campaign, Template
from campaigns.schemas import BrandIn
from core import db
from tests.console import browser as tools
from tests.console.test_marketer_contacts import FRENCH_CSV
from tests.console.test_variants_page import BRAND, FRENCH, SLOW


def _template_id(name: str) -> str:
    with db.session_scope() as session:
        return str(session.scalars(select(Template.id).where(Template.name == name)).one())


#: Zoé's zone (a French mobile) and the sending hours the walk sets: every minute of the day but the last,
#: since a window cannot run past midnight (its start must come before its end)
ZOE_ZONE = ZoneInfo("Europe/Paris")
OPEN_FROM, OPEN_UNTIL = "00:00", "23:59"


def _wait_for_open_hours(margin: timedelta = timedelta(minutes=3)) -> None:
    """Sleep past midnight when Zoé's clock is within ``margin`` of the closed minute (23:59-00:00).

    Confirmed at 23:58, the text was planned for 00:00 and the report was read before it went; the walk
    checks that it goes at once, so it starts where it can (at most ``margin`` + a second of waiting).
    """
    now = datetime.now(ZOE_ZONE)
    closes = datetime.combine(now.date(), time(23, 59), tzinfo=ZOE_ZONE)
    if now >= closes - margin:
        time_module.sleep((closes + timedelta(minutes=1, seconds=1) - now).total_seconds())


def _report_settles(page: Page, deadline_s: float = 90) -> dict[str, int]:
    """Reload the campaign page until nothing of it is queued or sending; its headline figures."""
    names = ("sent", "delivered", "failed", "queued", "sending")
    end = time_module.monotonic() + deadline_s
    while True:
        figures = {name: int(page.locator(f"#fig-{name}").inner_text().split()[0]) for name in names}
        if figures["queued"] == figures["sending"] == 0 and figures["sent"] > 0:
            return figures
        assert time_module.monotonic() < end, f"the campaign did not go out: {figures}"
        time_module.sleep(1)
        page.reload()


@pytest.mark.browser
def test_marketer_imports_segments_writes_approves_sends_and_reads_the_report(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        update_profile(session, BrandIn(**BRAND))  # type: ignore[arg-type]
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")

    # 1. import: cp1252, semicolons, French headers; one bad row handed back, a landline warned about
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Import contacts").click()
    upload: FilePayload = {"name": "clients.csv", "mimeType": "text/csv", "buffer": FRENCH_CSV}
    page.set_input_files("#import-file", files=[upload])
    expect(page.get_by_label("Field for column Téléphone")).to_have_value("phone")
    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#report-created")).to_have_text("2")
    expect(page.locator("#report-rejected")).to_have_text("1")

    # 2. segment: the builder starts with "opted in", which only Zoé is
    page.get_by_role("link", name="Segments", exact=True).click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name", exact=True).fill("Clients FR consentants")
    expect(page.locator("#segment-count")).to_have_text("1")
    page.get_by_role("button", name="Save the segment").click()
    page.wait_for_url("**/console/segments?done=saved")

    # 3. a template of our own, written with the live preview
    page.get_by_role("link", name="Templates", exact=True).click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name", exact=True).fill("Bienvenue")
    page.get_by_label("Language", exact=True).select_option("fr")
    page.get_by_label("Message", exact=True).fill("Bonjour ")
    page.get_by_role("button", name="Insert first_name").click()  # with its fallback for contacts without one
    page.get_by_label("Message", exact=True).press("End")
    page.keyboard.type(", bienvenue chez {{ business_name }} !")
    expect(page.locator("#template-preview-text")).to_contain_text("Bonjour Zoé, bienvenue chez Maison Lumière")
    page.get_by_role("button", name="Save the template").click()
    page.wait_for_url("**/console/templates?done=saved")

    # 4. variants of a brief in French, one approved into a template
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Variants").click()
    page.get_by_label("What is the message about?").fill("Winter sale: 20% off coats until Sunday")
    page.get_by_label("English").uncheck()
    page.get_by_label("Variants per language").fill("2")
    page.get_by_role("button", name="Write variants").click()
    expect(page.locator("#results-title")).to_have_text("2 new variants", timeout=SLOW)
    first = page.locator("article.variant").first
    first.get_by_label("Text of the French variant").fill(FRENCH)
    expect(first.locator(".score")).to_contain_text("Passes the brand check", timeout=SLOW)
    first.get_by_label("Template name (optional)").fill("Manteaux FR")
    first.get_by_role("button", name="Approve as a template").click()
    expect(page.locator("article.variant[data-status='approved']")).to_have_count(1, timeout=SLOW)

    # 5. the campaign: that segment, the approved variant, now, sending hours open all day, no country rule
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Campaigns").click()
    page.click("#new-campaign")
    page.fill("#name", "Manteaux d'hiver")
    page.select_option("#segment", label="Segment: Clients FR consentants")
    page.select_option("#template_id", _template_id("Manteaux FR"))
    page.check("#when-now")
    page.fill("#quiet_end", OPEN_FROM)
    page.fill("#quiet_start", OPEN_UNTIL)
    page.uncheck("#respect_country_rules")
    expect(page.locator("#review-reach")).to_have_text("1")
    # the review shows before the campaign is named: wait for the one of the whole form (its confirm
    # question names the campaign) before confirming
    expect(page.locator("#wizard-confirm")).to_have_attribute("hx-confirm", re.compile("Manteaux d'hiver"))
    tools.settled(page, "#wizard")
    _wait_for_open_hours()
    page.click("#wizard-confirm")
    page.click("#confirm-yes")
    page.wait_for_url(re.compile(r".*/console/campaigns/\d+\?done=\w+$"))

    # 6. the report: the text went to Zoé through the simulator
    figures = _report_settles(page)
    assert (figures["sent"], figures["failed"]) == (1, 0) and figures["delivered"] <= 1, figures
    tools.fits(page)
    with db.session_scope() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.name == "Manteaux d'hiver" and campaign.status in ("running", "completed")
