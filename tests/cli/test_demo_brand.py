"""`relais demo load` sets the demo brand, and every place that names the business uses it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import brand
from campaigns.schemas import BrandIn
from cli.demo import demo_brand
from core import db
from core.models import AuditEntry
from core.settings import Settings
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_demo_brand_is_set_once_audited_and_never_over_a_marketer_s(runtime: Settings) -> None:
    assert demo_brand(runtime) is True
    assert demo_brand(runtime) is False  # idempotent: already set
    with db.session_scope() as session:
        profile = brand.get_profile(session)
        assert (profile.name, profile.stop_number, profile.emoji_policy) == ("Maison Lumière", "36180", "none")
        assert "vous" in profile.voice and profile.languages == ["fr", "en"]
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "brand.update")))
        assert len(entries) == 1 and entries[0].actor_type == "cli"
        brand.update_profile(session, BrandIn.model_validate({"name": "Atelier Nord", "voice": "Dry"}))
    assert demo_brand(runtime) is False
    with db.session_scope() as session:
        assert brand.business_name(session) == "Atelier Nord"


def test_business_name_falls_back_to_the_setting_without_a_profile(runtime: Settings) -> None:
    with db.session_scope() as session:
        assert brand.business_name(session) == runtime.business_name
        assert brand.is_default(session)
        brand.get_profile(session)  # the row first use creates still counts as unset
        assert brand.is_default(session)
        assert brand.business_name(session) == runtime.business_name


def test_after_demo_brand_every_page_and_template_names_maison_lumiere(
    app_client: TestClient, runtime: Settings
) -> None:
    demo_brand(runtime)
    marketer = auth_headers("marketer")
    assert app_client.get("/api/v1/brand", headers=marketer).json()["name"] == "Maison Lumière"
    preview = app_client.post("/api/v1/templates/preview", headers=marketer,
                              json={"body": "{{ business_name }} : nouvelle collection", "kind": "marketing",
                                    "language": "fr"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["text"].startswith("Maison Lumière : nouvelle collection")
    assert "36180" in preview.json()["text"]  # the demo's STOP number in the footer
    console = app_client.get("/console/campaigns", headers={**HTML, **marketer}).text
    assert "<title>Campaigns · Maison Lumière</title>" in console
    assert "Text Maison Lumière (" in app_client.get("/simulator").text
    assert "Relais" not in app_client.get("/", headers=HTML).text.split("<body")[1]
