"""A predicted amount in a message reads with the shop's currency, in the template's language, as the shop writes
its prices ("4,90 EUR" in the demo's French FAQ): walking the marketer's journey, "{{ prediction.expected_spend }}"
printed "Vos achats prévus : 8999,21", a number with no unit, in the editor's preview, its list of predictions and
the campaign's texts. Each test fails without the fix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import flows, tasks
from campaigns.models import Campaign
from campaigns.shop_currency import shop_currency
from contacts.orders import LineIn, OrderIn, record_order
from conversations.models import Message
from core import db
from core.settings import Settings
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Paris
HTMX = {"HX-Request": "true"}
BODY = ('Vos achats prévus : {{ prediction.expected_spend | default("?") }}, '
        'sur un an {{ prediction.clv | default("?") }} ({{ prediction.purchase_90d | default("?") }})')  # fmt: skip


def _lea(currency: str = "EUR") -> int:
    """Léa, with an order in ``currency`` ("" names none) and her predicted spend and value."""
    with db.session_scope() as session:
        lea = create_contact(session, 1, first_name="Léa", timezone="Europe/Paris").id
        record_order(session, contact_id=lea, order=OrderIn(
            source="api", external_id="A-1", ordered_at=NOW - timedelta(days=20), currency=currency,
            lines=(LineIn("LAMP", "Lampe Opaline", 1, 45_000_000),)))  # fmt: skip
        for kind, value in {"expected_spend": 8999.214, "clv": 1250.0, "purchase_90d": 0.72}.items():
            model = store.register_version(session, kind=kind, version="t1")
            store.write_predictions(session, model, [store.Score(lea, value, {})])
        return lea


def _editor(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _checked(client: TestClient, headers: dict[str, str], contact: int, language: str) -> str:
    form = {"name": "Sélection", "kind": "marketing", "language": language, "event_fields": "", "attributes": "",
            "contact_id": str(contact), "body": BODY}  # fmt: skip
    out = client.post("/console/templates/check", data=form, headers=headers)
    assert out.status_code == 200, out.text
    return out.text


def test_the_editor_prints_a_predicted_amount_in_the_shops_currency_and_language(app_client: TestClient) -> None:
    lea = _lea()
    headers = _editor(app_client)
    french = _checked(app_client, headers, lea, "fr")
    # before: "Vos achats prévus : 8999,21, sur un an 1250 (72 %)"
    assert 'id="template-preview-text">Vos achats prévus : 8999,21 EUR, sur un an 1250 EUR (72 %)' in french
    listed = dict(re.findall(r'<li data-variable="([^"]+)">(.*?)</li>', french, re.S))
    assert "<strong>8999,21 EUR</strong> for this contact" in listed["prediction.expected_spend"]
    assert "<strong>1250 EUR</strong> for this contact" in listed["prediction.clv"]
    english = _checked(app_client, headers, lea, "en")
    assert 'id="template-preview-text">Vos achats prévus : 8999.21 EUR, sur un an 1250 EUR (72%)' in english


def test_no_currency_is_made_up_when_no_order_names_one(app_client: TestClient) -> None:
    lea = _lea(currency="")
    french = _checked(app_client, _editor(app_client), lea, "fr")
    assert 'id="template-preview-text">Vos achats prévus : 8999,21, sur un an 1250 (72 %)' in french


def test_the_campaigns_text_is_the_previews_with_the_currency(app_client: TestClient, runtime: Settings) -> None:
    lea = _lea()
    with db.session_scope() as session:
        template = create_template(session, BODY, language="fr")
        campaign_id, template_id = create_campaign(session, template).id, template.id
    shown = app_client.post("/api/v1/templates/preview", headers=auth_headers("marketer"),
                            json={"template_id": template_id, "contact_id": lea})  # fmt: skip
    assert shown.status_code == 200, shown.text
    assert shown.json()["text"].startswith("Vos achats prévus : 8999,21 EUR, sur un an 1250 EUR (72 %)\n")
    with db.session_scope() as session:
        flows.start_run(session, session.get_one(Campaign, campaign_id), now=NOW)
    assert tasks.prepare_campaign(campaign_id, now=NOW) == 1
    with db.session_scope() as session:
        sent = session.scalars(select(Message.body).where(Message.campaign_id == campaign_id)).one()
    assert sent == shown.json()["text"]


def test_the_shops_currency_is_the_most_common_among_its_orders(app_client: TestClient) -> None:
    with db.session_scope() as session:
        assert shop_currency(session) == ""
        contact = create_contact(session, 1).id
        for n, currency in enumerate(("GBP", "EUR", "", "EUR")):
            record_order(session, contact_id=contact, order=OrderIn(
                source="api", external_id=f"O-{n}", ordered_at=NOW, currency=currency,
                lines=(LineIn("X", "X", 1, 1_000_000),)))  # fmt: skip
        assert shop_currency(session) == "EUR"
