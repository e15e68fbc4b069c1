"""The wizard gives a template's translations: each recipient gets the text of their language."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaigns.models import Campaign
from conversations.models import Message
from core import db
from tests.campaigns.factories import create_contact, create_template
from tests.console import browser as tools

pytestmark = pytest.mark.browser


def test_the_french_recipients_get_the_french_translation(live_server: str, page: Page) -> None:
    # Before, the wizard sent one template to everyone: the French customers of an English campaign got the
    # English text, and the French translation a marketer had written could only be attached through the API.
    with db.session_scope() as session:
        english = create_template(session, name="Spring sale", language="en",
                                  body='Hi {{ first_name | default("there") }}, spring sale: 20% off this week')
        french = create_template(session, name="Soldes de printemps", language="fr",
                                 body='Bonjour {{ first_name | default("") }}, soldes de printemps : -20 %')
        amelie = create_contact(session, 1, first_name="Amélie").id
        emma = create_contact(session, 2, first_name="Emma", language="en", phone="+447700900123").id
        ids = {"en": english.id, "fr": french.id}
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.goto(f"{live_server}/console/campaigns/new")
    page.fill("#name", "Spring sale")
    page.select_option("#template_id", str(ids["en"]))
    translation = page.get_by_label("Recipients in French get")
    expect(translation).to_have_value("")  # the template above, until one is chosen
    translation.select_option(label="Soldes de printemps")
    page.fill("#quiet_end", "00:00")
    page.fill("#quiet_start", "23:59")
    page.uncheck("#respect_country_rules")
    expect(page.locator("#review-reach")).to_have_text("2")
    tools.fits(page)
    page.click("#wizard-save")
    page.wait_for_url(re.compile(r".*/console/campaigns/\d+/edit\?done=saved$"))
    expect(page.get_by_label("Recipients in French get")).to_have_value(str(ids["fr"]))  # kept in the draft
    # an A/B test's arms are texts of their own: no translation applies to them, and none is offered
    page.check("#mode-ab")
    expect(page.locator("#translations")).to_be_hidden()
    page.check("#mode-single")
    page.click("#wizard-confirm")
    page.click("#confirm-yes")
    page.wait_for_url(re.compile(r".*/console/campaigns/\d+\?done=scheduled$"))
    with db.session_scope() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.translations == {"fr": ids["fr"]}
    deadline = time.monotonic() + 30
    texts: dict[int, str] = {}
    while len(texts) < 2 and time.monotonic() < deadline:
        with db.session_scope() as session:
            texts = {m.contact_id: m.body for m in session.scalars(
                select(Message).where(Message.campaign_id == campaign.id))}
        time.sleep(0.2)
    assert texts[amelie].startswith("Bonjour Amélie, soldes de printemps"), texts
    assert texts[emma].startswith("Hi Emma, spring sale"), texts
