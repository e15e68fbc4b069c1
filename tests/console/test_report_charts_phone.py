"""The campaign report's bar charts on a phone: their words as readable as the page's."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.console import browser as tools
from tests.console.test_campaign_reports import build_campaign

#: the smallest text a chart may show, in CSS pixels (the page's small print is 14 px)
READABLE_PX = 12


@pytest.mark.browser
def test_the_reports_charts_read_at_phone_width(live_server: str, page: Page) -> None:
    """At 360 px each chart, drawn 640 units wide with its labels beside the bars, shrank to half its size: its
    13-unit words were under 7 px on the screen. Each bar now has its label and figure above it, in a chart as wide
    as a phone, so the words keep a readable size, and the whole bar stays in sight."""
    campaign_id = build_campaign()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 800})
    page.goto(f"{live_server}/console/campaigns/{campaign_id}")
    for chart in ("chart-funnel", "chart-reasons", "chart-arm-1", "chart-days"):
        sizes = page.evaluate(
            "(id) => [...document.querySelectorAll(`#${id} text`)].map(t => t.getBoundingClientRect().height)", chart)
        assert sizes and min(sizes) >= READABLE_PX, (chart, sizes)
        box = page.evaluate("(id) => { const r = document.getElementById(id).getBoundingClientRect();"
                            " return [r.left, r.right, document.documentElement.clientWidth]; }", chart)
        assert box[0] >= 0 and box[1] <= box[2], (chart, box)
    funnel = page.locator("#chart-funnel text").first.text_content() or ""
    assert funnel.startswith("Messages") and funnel.endswith(": 7"), funnel  # label and figure together
    # the per-day chart (drawn 640 wide with 12-unit words, one day's columns in a thin strip at its left) is the
    # same chart: the day's label and figures above a bar as long as the track, its delivered texts a stripe inside
    day = page.locator("#chart-days text").first.text_content() or ""
    assert day.endswith(": 5 sent, 3 delivered"), day
    track, sent = (page.locator("#chart-days rect").nth(i).bounding_box() for i in (0, 1))
    assert track and sent and sent["width"] == track["width"], (track, sent)
    assert tools.serious_violations(page) == []
    tools.fits(page)
