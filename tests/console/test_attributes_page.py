"""The contact attributes page (marketers): declare, change and delete custom fields from the console,
each audited like the API; a deletion is refused while a segment, template or campaign reads the
attribute, and the page names them. The API's PATCH and the refusals are checked here too, since the
page calls the same route functions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns import attribute_use
from contacts import segments
from contacts.models import AttributeValue
from core import db
from core.models import AuditEntry
from tests.campaigns.factories import create_campaign, create_template
from tests.console.helpers import create_console_user, log_in
from tests.contacts.helpers import create_contact
from tests.helpers import auth_headers

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}
TIER = {"all": [{"field": "attribute", "name": "tier", "op": "eq", "value": "gold"}]}


def _marketer(client: TestClient) -> dict[str, str]:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return {**HTMX, "X-CSRF-Token": log_in(client, "mia@example.com", secret)}


def _actions() -> list[str]:
    with db.session_scope() as session:
        return list(session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "contact_attribute")
                                    .order_by(AuditEntry.id)))


def test_a_marketer_declares_changes_and_deletes_an_attribute_from_the_page(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    contacts_page = app_client.get("/console/contacts", headers=HTML).text
    assert 'href="/console/attributes"' in contacts_page
    page = app_client.get("/console/attributes", headers=HTML)
    assert page.status_code == 200 and "None yet" in page.text

    form = {"name": "tier", "type": "string", "description": "Loyalty tier", "segmentable": "on"}
    assert app_client.post("/console/attributes", data=form, headers=HTMX).status_code == 403  # no CSRF
    declared = app_client.post("/console/attributes", data=form, headers=headers)
    assert declared.status_code == 200, declared.text
    assert "“tier” is declared: templates read it as {{ attributes.tier }}" in declared.text
    assert 'data-attribute="tier"' in declared.text and "Loyalty tier" in declared.text and "not used" in declared.text
    refused = app_client.post("/console/attributes", data={**form, "name": "Tier Level"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "name"
    again = app_client.post("/console/attributes", data=form, headers=headers)
    assert again.status_code == 409

    with db.session_scope() as session:
        create_contact(session, 1, attributes={"tier": "gold"})
    # the label changes, and segments stop filtering on it: its plaintext index goes
    changed = app_client.post("/console/attributes/tier", data={"type": "string", "description": "Tier (2026)"},
                              headers=headers)
    assert changed.status_code == 200 and "“tier” is updated." in changed.text and "Tier (2026)" in changed.text
    with db.session_scope() as session:
        assert session.scalars(select(AttributeValue).where(AttributeValue.name == "tier")).all() == []
    same = app_client.post("/console/attributes/tier", data={"type": "string", "description": "Tier (2026)"},
                           headers=headers)
    assert "Nothing changed." in same.text
    back = app_client.post("/console/attributes/tier",
                           data={"type": "string", "description": "Tier (2026)", "segmentable": "on"}, headers=headers)
    assert back.status_code == 200
    with db.session_scope() as session:  # on again: the values contacts hold are indexed again
        assert [v.value_text for v in session.scalars(select(AttributeValue).where(AttributeValue.name == "tier"))] \
            == ["gold"]

    deleted = app_client.post("/console/attributes/tier/delete", headers=headers)
    assert deleted.status_code == 200 and "“tier” is deleted." in deleted.text and "None yet" in deleted.text
    assert _actions() == ["contact_attribute.define", "contact_attribute.update", "contact_attribute.update",
                          "contact_attribute.delete"]


def test_an_attribute_in_use_is_named_and_not_deleted(app_client: TestClient) -> None:
    headers = _marketer(app_client)
    app_client.post("/console/attributes", data={"name": "tier", "type": "string", "segmentable": "on"},
                    headers=headers)
    app_client.post("/console/attributes", data={"name": "store", "type": "string"}, headers=headers)
    with db.session_scope() as session:
        segment = segments.create(session, name="Gold", rules=TIER)
        template = create_template(session, name="Store news",
                                   body='Votre magasin {{ attributes["store"] | default("") }}')
        campaign = create_campaign(session, template, name="Tiered", segment=TIER)  # a draft with its own rules
        segment_id, template_id = segment.id, template.id
        assert [u.words for u in attribute_use.users(session, "tier")] == [
            f"segment “Gold” (#{segment_id})", f"campaign “Tiered” (#{campaign.id})"]
        assert [u.words for u in attribute_use.users(session, "store")] == [f"template “Store news” (#{template_id})"]
    page = app_client.get("/console/attributes", headers=HTML).text
    tier = page.split('data-attribute="tier"', 1)[1].split("</li>\n    \n", 1)[0]
    assert f'href="/console/segments/{segment_id}"' in tier and "Segment “Gold”" in tier and "Campaign “Tiered”" in tier
    assert "Delete tier" not in page and "cannot be deleted" in tier
    store = page.split('data-attribute="store"', 1)[1]
    assert f'href="/console/templates/{template_id}"' in store and "Template “Store news”" in store

    refused = app_client.post("/console/attributes/store/delete", headers=headers)
    assert refused.status_code == 409 and "Store news" in refused.json()["detail"]
    api = app_client.delete("/api/v1/contacts/attributes/tier", headers=auth_headers("marketer"))
    assert api.status_code == 409 and "Gold" in api.json()["detail"] and "Tiered" in api.json()["detail"]
    retyped = app_client.patch("/api/v1/contacts/attributes/tier", headers=auth_headers("marketer"),
                               json={"type": "number"})
    assert retyped.status_code == 409 and "“Gold”" in retyped.json()["detail"]
    labelled = app_client.patch("/api/v1/contacts/attributes/tier", headers=auth_headers("marketer"),
                                json={"description": "Loyalty tier"})
    assert labelled.status_code == 200 and labelled.json()["description"] == "Loyalty tier"
    assert _actions() == ["contact_attribute.define", "contact_attribute.define", "contact_attribute.update"]


def test_agents_and_analysts_get_the_friendly_403(app_client: TestClient) -> None:
    _, secret = create_console_user("ana@example.com", role="analyst")
    log_in(app_client, "ana@example.com", secret)
    page = app_client.get("/console/attributes", headers=HTML)
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
