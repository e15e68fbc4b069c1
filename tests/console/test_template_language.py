"""The template editor's language: what it decides, a warning when the message reads as another language than the
one chosen, and the preview naming the opt-out line's language (Chromium, the live check as the marketer types)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaigns import brand
from campaigns.models import Template
from campaigns.schemas import BrandIn
from core import db
from tests.campaigns.factories import create_contact
from tests.console import browser as tools

SPRING = "Spring sale: 20 % off all our lamps this weekend, see you soon!"


@pytest.mark.browser
def test_an_english_text_in_a_french_shop_is_told_its_language_before_it_is_saved(live_server: str,
                                                                                   page: Page) -> None:
    """A marketer's English "Spring sale" was saved in the brand's French, the language new templates start in, and
    its preview for an English contact ended "STOP au 36180" with nothing saying why. The editor now says what the
    language decides, warns while the message reads as English (leaving the choice to the marketer), and the
    preview names the opt-out line's language."""
    with db.session_scope() as session:
        brand.update_profile(session, BrandIn.model_validate({"languages": ["fr", "en"], "stop_number": "36180"}))
        emma = create_contact(session, 1, first_name="Emma", language="en", country="GB").id
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/templates/new")
    expect(page.locator("#template-language")).to_have_value("fr")
    expect(page.locator("#language-help")).to_contain_text("marketing texts get the opt-out line in it")
    expect(page.locator("#language-help")).to_contain_text("A new template starts in the brand's language, French.")
    page.fill("#template-name", "Spring sale")
    page.select_option("#template-contact", str(emma))
    page.fill("#template-body", SPRING)
    # the first live check loads the language detector: 30 s on a loaded machine, not 5
    expect(page.locator("#template-preview-text")).to_have_text(f"{SPRING}\nSTOP au 36180", timeout=30_000)
    expect(page.locator("#language-mismatch")).to_have_text(
        "The message reads as English, but the template is set to French: it would be sent with the French opt-out "
        "line. If it is in English, set its Language to English before saving.", use_inner_text=True)
    expect(page.locator("#footer-note")).to_contain_text("“STOP au 36180”, in French (the template's language")
    assert tools.serious_violations(page) == []

    page.select_option("#template-language", "en")  # the marketer's choice: nothing was changed for them
    expect(page.locator("#language-mismatch")).to_have_count(0)
    expect(page.locator("#footer-note")).to_contain_text(", in English (the template's language")
    expect(page.locator("#template-preview-text")).not_to_contain_text("STOP au 36180")
    page.click("#template-save")
    page.wait_for_url(f"{live_server}/console/templates?done=saved")
    with db.session_scope() as session:
        saved = session.scalars(select(Template).where(Template.name == "Spring sale")).one()
        assert saved.language == "en"

    page.goto(f"{live_server}/console/templates/{saved.id}")  # a French text in a template set to English
    page.fill("#template-body", "Soldes de printemps : -20 % sur toutes nos lampes ce week-end !")
    expect(page.locator("#language-mismatch")).to_contain_text("reads as French, but the template is set to English")
    expect(page.locator("#language-help")).not_to_contain_text("A new template starts")


@pytest.mark.browser
def test_on_a_phone_the_language_warning_is_in_sight_where_the_marketer_types(live_server: str, page: Page) -> None:
    """At 360 px the warning sat under the Language select, above the event fields and the preview contact: with the
    message box in view (the keyboard open, or typing), it was off the screen, so the marketer saved an English text
    as French without seeing it. It now sits right under the box, and its link leads back to the Language select."""
    with db.session_scope() as session:
        brand.update_profile(session, BrandIn.model_validate({"languages": ["fr", "en"], "stop_number": "36180"}))
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 420})  # a phone with its keyboard open
    page.goto(f"{live_server}/console/templates/new")
    page.fill("#template-name", "Spring sale")
    body = page.locator("#template-body")
    body.click()
    page.keyboard.type(SPRING)
    warning = page.locator("#language-mismatch")
    expect(warning).to_contain_text("The message reads as English, but the template is set to French", timeout=20_000)
    body.evaluate("box => box.scrollIntoView({block: 'nearest'})")  # where the browser keeps the box while typing
    box, seen = body.bounding_box(), warning.bounding_box()
    assert box is not None and seen is not None
    assert 0 <= seen["y"] - (box["y"] + box["height"]) <= 24, (box, seen)  # right under the box
    assert seen["y"] + 48 <= 420, seen  # its first lines on the screen with the box (it was above the screen's top)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= tools.PHONE_WIDTH
    assert "language-warning" in (body.get_attribute("aria-describedby") or "").split()
    assert tools.serious_violations(page) == []

    warning.get_by_role("link", name="Language").click()  # back to the choice, kept the marketer's to make
    expect(page.locator("#template-language")).to_be_in_viewport()
    page.select_option("#template-language", "en")
    expect(warning).to_have_count(0)
    expect(page.locator("#template-body")).to_have_value(SPRING)  # nothing typed is lost on the way
