"""The variants page on a TestClient and in Chromium: a brief in several languages, each variant with
its path, angle, score and reasons, the live check while editing, save / approve (a template) /
reject audited like the API with the CSRF header, and the friendly 403 for other roles."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaigns.brand import update_profile
from campaigns.models import Template, Variant
from campaigns.schemas import BrandIn
from core import db
from core.models import AuditEntry
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}
BRAND = {"name": "Maison Lumière", "voice": "warm, calm", "banned_terms": ["cheap"], "required_terms": [],
         "examples": [], "emoji_policy": "none", "languages": ["fr", "en"], "max_segments": 2,
         "sentiment_min": -0.2, "sentiment_max": 1.0, "stop_number": "36180"}
BRIEF = {"brief": "Winter sale: 20% off coats until Sunday", "languages": ["fr", "de"], "n": "2",
         "tone": "friendly", "offer": "", "product": "", "deadline": "", "link": "https://maison.example/hiver"}


def _marketer(client: TestClient) -> str:
    assert client.put("/api/v1/brand", headers=auth_headers("admin"), json=BRAND).status_code == 200
    _, secret = create_console_user("mia@example.com", role="marketer")
    return log_in(client, "mia@example.com", secret)


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="variant" id="variant-(\d+)"', html)]


def test_a_brief_gives_checked_variants_per_language(app_client: TestClient) -> None:
    csrf = _marketer(app_client)
    page = app_client.get("/console/variants", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'href="/console/variants" aria-current="page"' in page.text
    assert 'id="lang-fr" checked' in " ".join(page.text.split()) and 'id="lang-de" >' in " ".join(page.text.split())
    assert "No LLM is configured" in page.text and "No variant is waiting" in page.text
    headers = {**HTMX, "X-CSRF-Token": csrf}
    assert app_client.post("/console/variants/generate", data=BRIEF, headers=HTMX).status_code == 403  # no CSRF
    made = app_client.post("/console/variants/generate", data=BRIEF, headers=headers)
    assert made.status_code == 200, made.text
    assert "4 new variants" in made.text and "Offline generator" in made.text
    assert made.text.count('data-language="fr"') == 2 and made.text.count('data-language="de"') == 2
    cards = re.findall(r"<article.*?</article>", made.text, re.DOTALL)
    assert len(cards) == 4 and not any("coats" in card for card in cards)  # the English noun stays out
    assert "reads as English" in made.text  # ... and the notes say why
    assert 'class="score-value"' in made.text and "Occasion" in made.text
    nothing = app_client.post("/console/variants/generate", data={**BRIEF, "languages": []}, headers=headers)
    assert nothing.status_code == 422 and "at least one language" in nothing.json()["detail"]
    wrong_tone = app_client.post("/console/variants/generate", data={**BRIEF, "tone": "angry"}, headers=headers)
    assert wrong_tone.status_code == 422 and wrong_tone.json()["detail"].startswith("tone")
    again = app_client.get("/console/variants", headers=HTML)
    assert len(_ids(again.text)) == 4  # the pending variants are still there after a reload


def test_edit_check_approve_and_reject_are_audited(app_client: TestClient) -> None:
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    first, second = _ids(app_client.post("/console/variants/generate", data={**BRIEF, "languages": ["fr"]},
                                         headers=headers).text)
    live = app_client.post(f"/console/variants/{first}/check", data={"text": "Maison Lumière: 20% off coats!"},
                           headers=headers)
    assert live.status_code == 200 and "Fails the brand check" in live.text and "English" in live.text
    with db.session_scope() as session:
        assert session.get(Variant, first).text != "Maison Lumière: 20% off coats!"  # nothing stored
    text = "Maison Lumière : -20 % sur les manteaux jusqu'à dimanche. À très vite !"
    saved = app_client.post(f"/console/variants/{first}/edit", data={"text": text}, headers=headers)
    assert saved.status_code == 200 and "Your edit is saved" in saved.text and "manteaux" in saved.text
    edited = text.replace("À très vite !", "On vous attend.")
    approved = app_client.post(f"/console/variants/{first}/approve",
                               data={"text": edited, "template_name": "Soldes manteaux"}, headers=headers)
    assert approved.status_code == 200 and 'data-status="approved"' in approved.text
    rejected = app_client.post(f"/console/variants/{second}/reject", data={"note": "trop insistant"}, headers=headers)
    assert 'data-status="rejected"' in rejected.text and "trop insistant" in rejected.text
    late = app_client.post(f"/console/variants/{second}/approve", data={"text": "x"}, headers=headers)
    assert late.status_code == 409
    with db.session_scope() as session:
        template = session.scalars(select(Template).where(Template.name == "Soldes manteaux")).one()
        assert (template.body, template.language) == (edited, "fr")
        actions = [(e.actor_type, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("variant.%")).order_by(AuditEntry.id))]
    assert f'href="/console/templates/{template.id}"' in approved.text
    created = [a for a in actions if a[1] == "variant.create"]
    assert created and set(created) == {("user", "variant.create")}  # the generated variants, by whom
    assert [a for a in actions if a[1] != "variant.create"] == [
        ("user", "variant.edit"), ("user", "variant.edit"), ("user", "variant.approve"), ("user", "variant.reject")]
    listing = app_client.get("/console/variants", headers=HTML)
    assert 'id="decided"' in listing.text and "trop insistant" in listing.text and _ids(listing.text) == []


def test_the_live_check_says_what_a_character_outside_gsm7_costs(app_client: TestClient) -> None:
    """A marketer comparing variants sees that one "À" makes the text two segments instead of one."""
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    first = _ids(app_client.post("/console/variants/generate", data={**BRIEF, "languages": ["fr"]},
                                 headers=headers).text)[0]
    text = "Maison Lumière : -20 % sur les manteaux jusqu'à dimanche. À très vite !"
    live = app_client.post(f"/console/variants/{first}/check", data={"text": text}, headers=headers)
    assert live.status_code == 200
    assert "<li>2 segments instead of 1: “À” is outside GSM-7" in live.text
    plain = app_client.post(f"/console/variants/{first}/check", data={"text": text.replace("À", "A")},
                            headers=headers)
    assert "1 SMS segment as sent (85 characters, GSM-7)" in plain.text and "instead of" not in plain.text


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient, role: str) -> None:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    log_in(app_client, f"{role}@example.com", secret)
    page = app_client.get("/console/variants", headers=HTML)
    assert page.status_code == 403 and "This page is not part of your role" in page.text


# -- the marketer's flow in Chromium --------------------------------------------------------------

SLOW = 60_000  # each variant is brand-checked (embeddings, sentiment): seconds on a loaded machine
FRENCH = "Maison Lumière : les manteaux d'hiver à -20 % jusqu'à dimanche. On vous attend en boutique."


@pytest.mark.browser
def test_marketer_writes_edits_approves_and_rejects_variants(live_server: str, page: Page) -> None:
    with db.session_scope() as session:
        update_profile(session, BrandIn(**BRAND))
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Variants").click()
    page.wait_for_url(f"{live_server}/console/variants")
    expect(page.get_by_label("French")).to_be_checked()
    tools.fits(page)

    page.get_by_label("What is the message about?").fill("Winter sale: 20% off coats until Sunday")
    page.get_by_label("English").uncheck()
    page.get_by_label("Variants per language").fill("2")
    page.get_by_label("Link (optional)").fill("https://maison.example/hiver")
    page.get_by_role("button", name="Write variants").click()
    expect(page.locator("#results-title")).to_have_text("2 new variants", timeout=SLOW)
    expect(page.locator("#results-title")).to_be_focused()
    expect(page.locator("#results-path")).to_contain_text("Offline generator")
    cards = page.locator("article.variant")
    expect(cards).to_have_count(2)
    for i in range(2):
        expect(cards.nth(i)).to_have_attribute("data-language", "fr")
        expect(cards.nth(i)).not_to_contain_text("coats")
    tools.fits(page)

    first, second = cards.nth(0), cards.nth(1)
    first_id = int(first.get_attribute("data-variant") or 0)
    box = first.get_by_label("Text of the French variant")
    box.fill("Maison Lumière: 20% off coats until Sunday!")
    expect(first.locator(".score")).to_contain_text("Fails the brand check", timeout=SLOW)  # checked as typed
    expect(first.locator(".reasons")).to_contain_text("English")
    box.fill(FRENCH)
    expect(first.locator(".score")).to_contain_text("Passes the brand check", timeout=SLOW)
    first.get_by_label("Template name (optional)").fill("Manteaux FR")
    first.get_by_role("button", name="Approve as a template").click()
    approved = page.locator(f"#variant-{first_id}")
    expect(approved).to_have_attribute("data-status", "approved", timeout=SLOW)
    expect(approved.locator("h3")).to_be_focused()
    tools.fits(page)

    second.locator("summary").focus()  # the rejection, with the keyboard only
    page.keyboard.press("Enter")
    second.get_by_label("Why (optional)").focus()
    page.keyboard.type("Trop insistant")
    page.keyboard.press("Enter")
    expect(page.locator("article.variant[data-status='rejected']")).to_contain_text("Trop insistant", timeout=SLOW)
    tools.fits(page)

    approved.get_by_role("link", name=re.compile("template #")).click()
    page.wait_for_url(re.compile(r".*/console/templates/\d+$"))
    with db.session_scope() as session:
        template = session.scalars(select(Template).where(Template.name == "Manteaux FR")).one()
        assert (template.body, template.language, template.kind) == (FRENCH, "fr", "marketing")
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"template.create", "variant.approve", "variant.reject"} <= set(actions)
