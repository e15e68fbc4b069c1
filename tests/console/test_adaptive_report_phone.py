"""The adaptive campaign's report on a phone: every part of its tables fits and reads at 360 px.

Its allocation and results tables scrolled sideways inside their boxes: the captions, centred on the table's
full width (521 and 706 px), were cut in the middle of their sentences, and every column past the third
was out of sight. On a phone each row now stacks under its batch or group, each figure after its column's
name, as the forecast-vs-actual table does."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.campaigns.test_adaptive import adaptive_campaign, run_adaptive
from tests.console import browser as tools

TABLES = ("#allocation", "#adaptive-results")


def test_the_adaptive_tables_fit_a_phone_and_name_each_figure(live_server: str, page: Page) -> None:
    campaign = adaptive_campaign(240, arms=3)
    run_adaptive(campaign, {"A": 0.08, "B": 0.22, "C": 0.14})
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/{campaign}")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    for table in TABLES:
        box = page.locator(table).locator("xpath=..")  # its scrolling region
        # nothing scrolls sideways inside the box: the caption and every column are in view
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), table
        caption = page.locator(f"{table} caption").bounding_box()
        assert caption is not None and caption["x"] >= 0 and caption["x"] + caption["width"] <= tools.PHONE_WIDTH
        for cell in page.locator(f"{table} tbody td").all():
            edge = cell.bounding_box()
            assert edge is not None and edge["x"] + edge["width"] <= tools.PHONE_WIDTH, (table, cell.inner_text())
    # every other table's caption on the page is in view too, though its table scrolls in its box
    captions = page.evaluate("""() => [...document.querySelectorAll('caption')]
        .filter(c => c.offsetParent && getComputedStyle(c).position != 'absolute')
        .map(c => { const r = document.createRange(); r.selectNodeContents(c); const b = r.getBoundingClientRect();
                    return [c.textContent.trim(), b.left, b.right]; })""")
    assert "Per-arm figures" in [text for text, _, _ in captions]
    assert [text for text, left, right in captions if left < 0 or right > tools.PHONE_WIDTH] == []
    # each figure says which column it is
    batch = page.locator('#allocation tr[data-batch="1"]')
    assert batch.locator("td").nth(1).evaluate("e => getComputedStyle(e, '::before').content") == '"Control: "'
    assert batch.locator("th").evaluate("e => getComputedStyle(e, '::before').content") == '"Batch: "'
    lift = page.locator('#adaptive-results tr[data-group="B"] td').nth(5)
    assert lift.evaluate("e => getComputedStyle(e, '::before').content") == '"Lift over control: "'
    tools.fits(page)
    # on a desktop the tables stay tables
    assert page.locator("#allocation thead").evaluate("e => getComputedStyle(e).position") != "absolute"
