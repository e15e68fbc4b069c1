"""What a marketer tripped on walking the demo (session 18): a campaign scheduled for tomorrow said it
"updates every 10 seconds while the campaign is sending", the wizard offered "New collection (EN) (English)",
and a campaign sent through the simulator read its 0.00 cost as "differs from the estimate"."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import update

from api.console import forecast_words, named_with_language
from campaigns import tasks
from campaigns.models import Campaign
from contacts import consent
from conversations.models import Message
from core import db
from core.audit import SYSTEM, Actor
from tests.campaigns.factories import create_contact, create_template
from tests.console import browser as tools
from tests.console.helpers import create_console_user
from tests.console.test_campaign_reports import HTML, build_campaign, marketer_client
from tests.console.test_campaign_wizard import marketer_headers, wizard_audience, wizard_form
from tests.console.test_segments_page import _form

UPDATES = "Updates every 10 seconds while the campaign is sending"


def test_only_a_sending_campaign_says_it_updates_and_a_change_of_state_reloads_the_page(app_client: TestClient) -> None:
    campaign_id = build_campaign(status="scheduled")
    client = marketer_client(app_client)
    scheduled = client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    assert UPDATES not in scheduled and re.search(r'class="window">[^<]*<span[^>]*>scheduled</span>.*?Figures\s+as of',
                                                  scheduled, re.S)
    # it still polls, saying which state the page shows, so the page follows the campaign when it starts
    assert """hx-vals='{"shown": "scheduled"}'""" in scheduled
    fragment = client.get(f"/console/campaigns/{campaign_id}/live", params={"shown": "scheduled"},
                          headers={**HTML, "HX-Request": "true"})
    assert fragment.status_code == 200 and 'id="campaign-report"' in fragment.text
    assert "HX-Refresh" not in fragment.headers
    with db.session_scope() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="running"))
    # the page drawn while scheduled gets a reload: its "where it stands" and buttons were the scheduled ones
    fragment = client.get(f"/console/campaigns/{campaign_id}/live", params={"shown": "scheduled"},
                          headers={**HTML, "HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["HX-Refresh"] == "true" and fragment.text == ""
    running = client.get(f"/console/campaigns/{campaign_id}", params={"done": "scheduled"}, headers=HTML).text
    assert UPDATES in running and """hx-vals='{"shown": "running"}'""" in running
    assert 'id="done">The campaign has started' in running
    with db.session_scope() as session:  # the reloaded page keeps its address: a finished campaign "has started"
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
    completed = client.get(f"/console/campaigns/{campaign_id}", params={"done": "scheduled"}, headers=HTML).text
    assert 'id="done"' not in completed and UPDATES not in completed and "hx-vals" not in completed


def test_the_wizard_names_a_templates_language_once(app_client: TestClient) -> None:
    with db.session_scope() as session:
        create_template(session, name="New collection (EN)", body="New collection", language="en")
        create_template(session, name="Soldes", body="Soldes d'hiver", language="fr")
    html = app_client.get("/console/campaigns/new", headers={**HTML, **marketer_headers(app_client)}).text
    assert ">New collection (EN)</option>" in html and "(EN) (English)" not in html
    assert ">Soldes (French)</option>" in html
    # the name says the language by its name, its code in capitals or in brackets; "it" in a sentence is a word
    assert named_with_language("English promo", "en") == "English promo"
    assert named_with_language("Promo [fr]", "fr") == "Promo [fr]"
    assert named_with_language("Get it now", "it") == "Get it now (Italian)"


def test_a_campaign_sent_through_the_simulator_is_no_miss_of_its_cost_estimate(app_client: TestClient) -> None:
    ids = wizard_audience()
    headers = marketer_headers(app_client)
    review = app_client.post("/console/campaigns/wizard/review", data=wizard_form(ids), headers=headers).text
    assert "sends through the simulator, which charges nothing" in review  # the estimate says what it prices
    confirmed = app_client.post("/console/campaigns/wizard/confirm", data=wizard_form(ids), headers=headers)
    assert confirmed.status_code == 204, confirmed.text
    with db.session_scope() as session:
        campaign_id = session.query(Campaign).one().id
    tasks.prepare_campaign(campaign_id)
    with db.session_scope() as session:  # the simulator reports no price: the texts cost nothing
        session.execute(update(Message).where(Message.campaign_id == campaign_id).values(status="delivered"))
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="completed"))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    row = page.split('data-metric="cost_micros">', 1)[1].split("</tr>", 1)[0]
    assert f'<td data-label="Verdict">{forecast_words.SIMULATED}</td>' in row and "differs" not in row
    assert 'id="cost-simulated">sent through the simulator, which charges nothing<' in page
    with db.session_scope() as session:  # a provider that charged another price: that is a difference
        session.execute(update(Message).where(Message.campaign_id == campaign_id)
                        .values(provider="vonage", price_micros=10_000))
    page = app_client.get(f"/console/campaigns/{campaign_id}", headers=HTML).text
    row = page.split('data-metric="cost_micros">', 1)[1].split("</tr>", 1)[0]
    assert forecast_words.POINT_MISSED in row and 'id="cost-simulated"' not in page


def test_the_contacts_list_names_languages_and_countries_and_offers_the_export(app_client: TestClient) -> None:
    """The list read "fr" and "FR" where every other page names them; the CSV export was in the API alone."""
    with db.session_scope() as session:
        create_contact(session, 1, first_name="Zoé", language="fr")
    headers = marketer_headers(app_client)  # logged in; HTMX and CSRF headers for the builder's preview
    page = app_client.get("/console/contacts", headers=HTML).text
    row = page.split('data-contact="', 1)[1].split("</tr>", 1)[0]
    assert "<td>French</td>" in row and "<td>France</td>" in row
    link = re.search(r'<a class="button" href="([^"]+)" id="contacts-export" download>', page)
    assert link, "no export link"
    exported = app_client.get(link.group(1))  # the console's session opens it
    assert exported.status_code == 200 and exported.text.startswith("id,phone,") and "line_type" in exported.text
    # the segment builder's matching contacts, the template editor's "Preview for" list: "· fr ·" before
    found = app_client.post("/console/segments/preview", data=_form([(0, "language", "eq", "fr", "")], ["all"]),
                            headers=headers)
    assert "+33*******01 · French · opted in" in found.text
    editor = app_client.get("/console/templates/new", headers=HTML).text
    assert "+33*******01 · French</option>" in editor


@pytest.mark.browser
def test_an_open_campaign_page_follows_the_campaign_from_scheduled_to_sending_on_a_phone(
        live_server: str, page: Page) -> None:
    """In Chromium at 390 px: the page of a scheduled campaign does not say it updates; when the campaign starts, the
    page reloads by itself, so "where it stands" and the buttons are the sending ones (the report alone changed)."""
    campaign_id = build_campaign(status="scheduled")
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server}/console/campaigns/{campaign_id}")
    expect(page.locator("#campaign-state")).to_have_attribute("data-state", "scheduled")
    expect(page.locator("#campaign-report .window")).not_to_contain_text("Updates every")
    with db.session_scope() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="running"))
    expect(page.locator("#campaign-state")).to_have_attribute("data-state", "running", timeout=25_000)
    expect(page.locator("#state-words")).to_contain_text("Sending")
    expect(page.locator("#campaign-report .window")).to_contain_text(UPDATES)
    tools.fits(page)


def test_the_consent_history_says_who_recorded_each_change(app_client: TestClient) -> None:
    """The contact page's "By" column read "user" (the actor's kind) for the marketer whose import recorded it."""
    user_id, _ = create_console_user("noe@example.com", role="marketer")
    with db.session_scope() as session:
        contact = create_contact(session, 1, first_name="Zoé", opted_in=False)
        consent.record_opt_in(session, contact=contact, source="import", proof="import clients.csv row 2",
                              actor=Actor(type="user", id=str(user_id)))
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP", actor=SYSTEM)
        contact_id = contact.id
    marketer_headers(app_client)
    page = app_client.get(f"/console/contacts/{contact_id}", headers=HTML).text
    ledger = page.split('id="consent-history"', 1)[1].split("</table>", 1)[0]
    assert "<td>noe@example.com</td>" in ledger and "<td>Relais (automatic)</td>" in ledger
    assert "<td>user</td>" not in ledger and "<td>system</td>" not in ledger
