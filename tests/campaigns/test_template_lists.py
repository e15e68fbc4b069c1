"""A list a template prints reads as words in the SMS, not as Python.

The editor advised ``{{ recommendations | default("") }}`` for a bare ``{{ recommendations }}``; followed, it wrote
``Pour vous : ['Lampe Opaline', 'Abat-jour']`` into the message. An event's list (an order's ``items``) printed the
mapping's method instead: ``<built-in method items of dict object at 0x…>``.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from campaigns.templates import Compiled, TemplateSpec, contact_context, validate
from core import db
from core.errors import ValidationFailed
from intelligence import store
from tests.campaigns.factories import create_contact
from tests.helpers import auth_headers

PRODUCTS = ["Lampe Opaline", "Abat-jour"]


def _render(body: str, **values: object) -> str:
    context = contact_context(first_name=None, name=None, language="fr", country=None, timezone=None,
                              attributes=None, business_name="Maison", **values)  # type: ignore[arg-type]
    return Compiled(body).render(context)


@pytest.mark.parametrize(("body", "text"), [
    ('Pour vous : {{ recommendations | default("") }}', "Pour vous : Lampe Opaline, Abat-jour"),
    ("{% if recommendations %}Pour vous : {{ recommendations }}{% endif %}", "Pour vous : Lampe Opaline, Abat-jour"),
    ('{{ "Pour vous : " ~ recommendations | default("") }}', "Pour vous : Lampe Opaline, Abat-jour"),
    ('{{ recommendations | default("") | upper }}', "LAMPE OPALINE, ABAT-JOUR"),
    # the list itself is still there for the filters and loops that take one
    ('{{ recommendations | default([]) | first }}', "Lampe Opaline"),
    ('{{ recommendations | default([]) | join(" et ") }}', "Lampe Opaline et Abat-jour"),
    ('{{ recommendations | default([]) | length }}', "2"),
    ("{% for p in recommendations | default([]) %}[{{ p }}]{% endfor %}", "[Lampe Opaline][Abat-jour]"),
])
def test_the_recommendations_print_as_words_and_stay_a_list(body: str, text: str) -> None:
    validate(body, TemplateSpec())
    assert _render(body, recommendations=PRODUCTS) == text


def test_a_contact_without_recommendations_gets_nothing_not_brackets() -> None:
    assert _render('Pour vous : {{ recommendations | default([]) }}.') == "Pour vous : ."


def test_the_editors_advice_for_a_bare_list_renders_words() -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate("Pour vous : {{ recommendations }}", TemplateSpec())
    advice = str(refused.value)
    examples = re.findall(r"e\.g\. (\{%.*?%\}.*?\{% endif %\}|\{\{.*?\}\})", advice)
    assert len(examples) == 2, advice
    for example in examples:
        validate(example, TemplateSpec())
        shown = _render(example, recommendations=PRODUCTS)
        assert "Lampe Opaline" in shown and "[" not in shown and "'" not in shown, (example, shown)
        assert _render(example) == ""


def test_an_events_list_prints_its_items_as_words() -> None:
    spec = TemplateSpec(event_fields=["items", "order.skus"])
    body = "Votre commande : {{ event.items }} ({{ event.order.skus }}), d'abord {{ event.items | first }}"
    validate(body, spec)
    event = {"items": ["Lampe Opaline", "Abat-jour"], "order": {"skus": ["L1", "A2"]}}
    assert _render(body, event=event) == "Votre commande : Lampe Opaline, Abat-jour (L1, A2), d'abord Lampe Opaline"


def test_the_preview_for_a_scored_contact_reads_as_the_sms_will(app_client: TestClient) -> None:
    with db.session_scope() as session:
        zoe = create_contact(session, 1, first_name="Zoé").id
        model = store.register_version(session, kind="purchase_90d", version="t1")
        products = [{"id": "L1", "description": "Lampe Opaline"}, {"id": "A2", "description": "Abat-jour"}]
        store.write_predictions(session, model, [store.Score(zoe, 0.82, {"products": products})])
    shown = app_client.post("/api/v1/templates/preview", headers=auth_headers("marketer"), json={
        "contact_id": zoe, "language": "fr", "body": 'Pour vous : {{ recommendations | default("") }}'})
    assert shown.status_code == 200, shown.text
    assert shown.json()["text"].startswith("Pour vous : Lampe Opaline, Abat-jour")
