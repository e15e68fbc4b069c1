"""A value a template prints reads as the customer's words, in the template's language, not as Python.

A boolean attribute printed "True" inside a French SMS, ``{{ prediction.purchase_90d }}`` "0.7234987", and
``{{ event.order }}`` (a group of fields) ``{'number': 1042, 'total': 59.9}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import flows, tasks
from campaigns.models import Campaign
from campaigns.templates import Compiled, TemplateSpec, contact_context, validate
from conversations.models import Message
from core import db
from core.errors import ValidationFailed
from core.settings import Settings
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Paris
SCORES = {"purchase_90d": 0.7234987, "churn_risk": 0.998, "expected_spend": 124.5, "best_hour": 18.0}


def _render(body: str, language: str, attributes: dict[str, Any] | None = None, **values: Any) -> str:
    context = contact_context(first_name=None, name=None, language="fr", country=None, timezone=None,
                              attributes=attributes, business_name="Maison", **values)
    return Compiled(body, language).render(context)


@pytest.mark.parametrize(("language", "text"), [
    ("fr", "Client VIP : oui, newsletter : non"),
    ("es", "Client VIP : sí, newsletter : no"),
    ("de", "Client VIP : ja, newsletter : nein"),
    ("en", "Client VIP : yes, newsletter : no"),
])
def test_a_boolean_prints_yes_or_no_in_the_templates_language(language: str, text: str) -> None:
    body = 'Client VIP : {{ attributes.vip | default("") }}, newsletter : {{ attributes.news | default("") }}'
    validate(body, TemplateSpec(attributes=["vip", "news"]))
    assert _render(body, language, attributes={"vip": True, "news": False}) == text


def test_a_boolean_still_tests_compares_and_converts_as_one() -> None:
    body = ('{% if attributes.vip is defined and attributes.news is defined %}{% if attributes.vip %}A{% endif %}'
            '{% if not attributes.news %}B{% endif %}{% if attributes.vip == true %}C{% endif %}'
            '{{ attributes.vip | int }} {{ "VIP " ~ attributes.vip }} {{ attributes.vip | upper }}{% endif %}')
    validate(body, TemplateSpec(attributes=["vip", "news"]))
    assert _render(body, "fr", attributes={"vip": True, "news": False}) == "ABC1 VIP oui OUI"


@pytest.mark.parametrize(("body", "fr", "en"), [
    # a chance (docs/intelligence.md: purchase_90d, churn_risk, response) is a percentage, never a certainty
    ('{{ prediction.purchase_90d | default("") }}', "72 %", "72%"),
    ('{{ prediction.churn_risk | default("") }}', "99 %", "99%"),
    ('{{ "Chance : " ~ prediction.purchase_90d | default("") }}', "Chance : 72 %", "Chance : 72%"),
    # an amount: two decimals with the language's separator; an hour whole
    ('{{ prediction.expected_spend | default("") }}', "124,50", "124.50"),
    ('{{ prediction.best_hour | default("") }}', "18", "18"),
    # the marketer's own filters and arithmetic still decide
    ('{{ prediction.purchase_90d | default(0) | round(2) }}', "0,72", "0.72"),
    ('{{ (prediction.purchase_90d | default(0) * 100) | round | int }}', "72", "72"),
    ('{{ prediction.expected_spend | default(0) | round }}', "124", "124"),
    ('{{ prediction.expected_spend | default(0) | int }}', "124", "124"),
])
def test_a_prediction_prints_as_a_person_reads_it(body: str, fr: str, en: str) -> None:
    validate(body, TemplateSpec())
    assert _render(body, "fr", prediction=SCORES) == fr
    assert _render(body, "en", prediction=SCORES) == en


def test_an_events_numbers_print_rounded_and_whole_ones_stay_whole() -> None:
    body = "Total : {{ event.total }} pour {{ event.count }} articles ({{ event.weight }} kg)"
    validate(body, TemplateSpec(event_fields=["total", "count", "weight"]))
    event = {"total": 59.9, "count": 3, "weight": 2.0}
    assert _render(body, "fr", event=event) == "Total : 59,90 pour 3 articles (2 kg)"


@pytest.mark.parametrize("body", [
    "Commande {{ event.order }}",
    'Commande {{ event.order | default("") | upper }}',
    '{{ "Commande " ~ event.order }}',
])
def test_a_group_of_fields_printed_whole_is_refused_naming_its_fields(body: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate(body, TemplateSpec(event_fields=["order.number", "order.total?"]))
    assert "event.order.number, event.order.total" in str(refused.value)
    assert refused.value.errors[0]["variable"] == "event.order"


def test_a_group_of_fields_read_by_field_or_tested_is_fine() -> None:
    body = "{% if event.order %}Commande {{ event.order.number }}{% endif %}"
    validate(body, TemplateSpec(event_fields=["order.number", "order.total?"]))
    assert _render(body, "fr", event={"order": {"number": 1042, "total": 59.9}}) == "Commande 1042"


def test_a_group_of_fields_nobody_declared_is_refused_when_rendered_not_sent_as_python() -> None:
    validate("Commande {{ event.order }}", TemplateSpec(event_fields=["order"]))
    with pytest.raises(ValidationFailed, match="number, total"):
        _render("Commande {{ event.order }}", "fr", event={"order": {"number": 1042, "total": 59.9}})


def test_the_preview_and_the_send_write_the_same_words(app_client: TestClient, runtime: Settings) -> None:
    body = ('Bonjour, membre VIP : {{ attributes.vip | default("") }}, '
            'chance : {{ prediction.purchase_90d | default("") }}')
    with db.session_scope() as session:
        zoe = create_contact(session, 1, language="en", attributes={"vip": True}).id
        model = store.register_version(session, kind="purchase_90d", version="t1")
        store.write_predictions(session, model, [store.Score(zoe, 0.7234987, {})])
        template = create_template(session, body, language="fr", attributes=["vip"])
        campaign_id, template_id = create_campaign(session, template).id, template.id
    shown = app_client.post("/api/v1/templates/preview", headers=auth_headers("marketer"),
                            json={"template_id": template_id, "contact_id": zoe})
    assert shown.status_code == 200, shown.text
    preview = shown.json()["text"]
    # the template is French: an English contact without a translation reads its words in French
    assert preview.startswith("Bonjour, membre VIP : oui, chance : 72 %\n"), preview
    with db.session_scope() as session:
        flows.start_run(session, session.get_one(Campaign, campaign_id), now=NOW)
    assert tasks.prepare_campaign(campaign_id, now=NOW) == 1
    with db.session_scope() as session:
        sent = session.scalars(select(Message.body).where(Message.campaign_id == campaign_id)).one()
    assert sent == preview
