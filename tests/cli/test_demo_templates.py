"""`relais demo load` writes the demo shop's marketing templates, so the campaign wizard has something to send."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import template_check
from campaigns.models import Template
from campaigns.schemas import TemplateIn
from cli.demo import demo_brand, demo_contacts, demo_templates
from contacts.models import Contact
from core import db
from core.models import AuditEntry
from core.settings import Settings
from intelligence import store
from tests.console.helpers import create_console_user, log_in

NAMES = ("Nouvelle collection (FR)", "New collection (EN)")


def test_the_wizard_offers_the_demo_templates_saved_once(app_client: TestClient, runtime: Settings) -> None:
    demo_brand(runtime)
    demo_contacts()
    with db.session_scope() as session:
        assert session.scalar(select(Template.id)) is None
    assert demo_templates() == 2
    assert demo_templates() == 0  # a second load changes nothing
    with db.session_scope() as session:
        saved = {t.name: (t.kind, t.language) for t in session.scalars(select(Template))}
        assert saved == {NAMES[0]: ("marketing", "fr"), NAMES[1]: ("marketing", "en")}
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "template.create")).all()
        assert len(entries) == 2 and {e.actor_type for e in entries} == {"cli"}
    _, secret = create_console_user("ines@example.com", role="marketer")
    log_in(app_client, "ines@example.com", secret)
    page = app_client.get("/console/campaigns/new", headers={"Accept": "text/html"}).text
    assert 'id="no-template"' not in page
    assert f"{NAMES[0]}</option>" in page and f"{NAMES[1]}</option>" in page  # its language said once


def test_the_demo_templates_greet_by_name_recommend_and_carry_the_brands_stop_line(runtime: Settings) -> None:
    demo_brand(runtime)
    demo_contacts()
    demo_templates()
    with db.session_scope() as session:
        people = {c.first_name: c for c in session.scalars(select(Contact))}
        scored, unscored = people["Léa"], people["Hugo"]  # scored: a recommendation; not yet: the collection
        model = store.register_version(session, kind="purchase_90d", version="demo-test", params={}, metrics={})
        store.write_predictions(session, model, [store.Score(scored.id, 0.7, {
            "products": [{"id": "85123A", "description": "WHITE HANGING HEART T-LIGHT HOLDER"}]})])
        for template in session.scalars(select(Template)):
            draft = TemplateIn(name=template.name, language=template.language, body=template.body)
            for contact in (scored, unscored):
                checked = template_check.check(session, draft, contact_id=contact.id)
                assert checked.saveable and checked.text is not None and checked.info is not None
                assert contact.first_name in checked.text and checked.text.startswith("Maison Lumière")
                said = "white hanging heart t-light holder" in checked.text
                assert said is (contact is scored), checked.text
                stop = "STOP au 36180" if template.language == "fr" else "Reply STOP to opt out"
                assert checked.text.endswith(stop) and checked.footer == ""  # written, not appended
                assert checked.brand == [] and checked.ucs2_characters == [] and checked.info.segments <= 2
