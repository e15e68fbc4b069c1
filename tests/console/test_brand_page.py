"""The brand profile page on a TestClient: the saved profile in the form, a save audited like
``PUT /api/v1/brand`` (CSRF header needed), refused values under their fields, the new business name
in the header and in templates' ``{{ business_name }}``, and the friendly 403 for agents and analysts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from campaigns.models import BrandProfile
from core import db
from core.models import AuditEntry
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, create_console_user, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _form(**fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Maison Lumière", "voice": "Chaleureuse, simple.", "examples": "Bonjour !\r\nÀ bientôt\r\n",
        "banned_terms": "gratuit\r\n\r\n  pas cher \r\ngratuit", "required_terms": "", "emoji_policy": "none",
        "languages": ["fr", "en"], "max_segments": "2", "sentiment_min": "0.1", "sentiment_max": "1",
        "stop_number": "36111",
    }
    form.update(fields)
    return form


def test_save_is_audited_and_the_name_shows_everywhere(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    page = app_client.get("/console/brand", headers=HTML)
    assert page.status_code == 200 and 'href="/console/brand" aria-current="page"' in page.text
    assert app_client.post("/console/brand", data=_form(), headers=HTMX).status_code == 403  # no CSRF
    saved = app_client.post("/console/brand", data=_form(), headers=headers)
    assert saved.status_code == 204 and saved.headers["HX-Location"] == "/console/brand?done=saved"
    with db.session_scope() as session:
        profile = session.scalars(select(BrandProfile)).one()
        assert (profile.name, profile.banned_terms, profile.examples) == (
            "Maison Lumière", ["gratuit", "pas cher"], ["Bonjour !", "À bientôt"])
        assert (profile.emoji_policy, profile.languages, profile.max_segments, profile.stop_number) == (
            "none", ["fr", "en"], 2, "36111")
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "brand.update")).one()
        assert entry.actor_type == "user" and "banned_terms" in entry.diff
    again = app_client.get("/console/brand?done=saved", headers=HTML)
    assert "The brand profile is saved." in again.text and "<span>Maison Lumière</span>" in again.text
    assert "STOP au 36111" in again.text and ">gratuit\npas cher</textarea>" in again.text
    assert 'value="none" checked' in again.text and 'value="fr" checked' in again.text
    preview = app_client.post("/console/templates/check", headers=headers, data={
        "name": "x", "kind": "marketing", "language": "fr", "body": "Les nouveautés de {{ business_name }}"})
    assert 'id="template-preview-text">Les nouveautés de Maison Lumière\nSTOP au 36111<' in preview.text
    assert "<span>Maison Lumière</span>" in app_client.get("/console/templates", headers=HTML).text


def test_refused_values_come_back_under_their_fields(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    out = app_client.post("/console/brand", headers=headers,
                          data=_form(max_segments="12", sentiment_min="abc", examples="\n".join(map(str, range(25)))))
    assert out.status_code == 200 and 'id="brand-errors"' in out.text and "3\n    values need" in out.text
    assert 'id="max_segments-error"' in out.text and "less than or equal to 10" in out.text
    assert 'id="brand-segments" name="max_segments"' in out.text and 'value="12"' in out.text
    assert 'aria-describedby="max_segments-help max_segments-error" aria-invalid="true"' in out.text
    assert 'id="sentiment_min-error"' in out.text and 'id="examples-error"' in out.text
    with db.session_scope() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "brand.update")).all() == []


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient, role: str) -> None:
    _, secret = create_console_user(f"{role}@example.com", role=role)
    log_in(app_client, f"{role}@example.com", secret)
    page = app_client.get("/console/brand", headers=HTML)
    assert page.status_code == 403 and "This page is not part of your role" in page.text


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


@pytest.mark.browser
def test_admin_renames_the_business_in_the_browser(live_server: str, browser: Browser) -> None:
    _, secret = create_console_user("root@example.com", role="admin")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # the shared test machine can be slow
    try:
        tools.log_in(page, live_server, "root@example.com", PASSWORD, secret)
        page.get_by_role("link", name="Brand", exact=True).click()
        page.wait_for_url(f"{live_server}/console/brand")
        page.get_by_label("Business name").fill("Maison Lumière")
        page.get_by_label("STOP number").fill("36111")
        page.get_by_label("Banned terms (one per line)").fill("gratuit\npas cher")
        page.get_by_label("None: a text with an emoji fails the brand check").check()
        longest = page.get_by_label("Longest text (SMS segments)")
        longest.fill("11")
        assert longest.evaluate("input => input.validity.rangeOverflow")  # refused before anything is sent
        page.get_by_label("Longest text (SMS segments)").fill("1")
        page.get_by_role("button", name="Save the brand profile").click()
        page.wait_for_url("**/console/brand?done=saved")
        expect(page.locator("header .brand")).to_have_text("Maison Lumière")
        expect(page.locator("#footer-lines")).to_contain_text("STOP au 36111")
        expect(page.get_by_label("Banned terms (one per line)")).to_have_value("gratuit\npas cher")

        # rules no text could pass were saved, and a refusal showed under "The brand profile is saved."
        page.get_by_label("Required terms (one per line)").fill("Gratuit")
        page.get_by_label("Tone, lowest (sentiment from −1 to 1)").fill("0.8")
        page.get_by_label("Tone, highest").fill("0.2")
        page.get_by_role("button", name="Save the brand profile").click()
        expect(page.locator("#brand-errors")).to_contain_text("The profile is not saved: 2")
        expect(page.locator("#brand-done")).to_have_text("")
        expect(page.locator("#required_terms-error")).to_have_text(
            "Gratuit cannot be both required and banned: no text could pass the check")
        expect(page.locator("#sentiment_max-error")).to_have_text(
            "the highest tone (0.2) is below the lowest (0.8): no text could pass")
        page.get_by_label("Required terms (one per line)").fill("")
        page.get_by_label("Tone, lowest (sentiment from −1 to 1)").fill("0")
        page.get_by_label("Tone, highest").fill("1")
        page.get_by_role("button", name="Save the brand profile").click()
        expect(page.locator("#brand-done")).to_have_text("The brand profile is saved.")
        page.set_viewport_size({"width": 360, "height": 740})
        assert tools.page_width(page) <= 360
        assert tools.serious_violations(page) == []
    finally:
        context.close()
    with db.session_scope() as session:
        profile = session.scalars(select(BrandProfile)).one()
        assert (profile.name, profile.max_segments, profile.emoji_policy) == ("Maison Lumière", 1, "none")
