"""Templates over HTTP: 422 naming the variable and line, preview with encoding, segments and cost,
delete refused while in use, media URLs that are not public refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns.models import Template
from core import db
from core.models import AuditEntry
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers


def test_create_rejects_unknown_variable_with_a_clear_422(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    response = app_client.post("/api/v1/templates", headers=headers,
                               json={"name": "bad", "body": "Hi\n{{ firstname | default('') }}"})
    assert response.status_code == 422
    problem = response.json()
    assert "firstname" in problem["detail"] and "line 2" in problem["detail"]
    assert problem["errors"][0]["variable"] == "firstname"


def test_create_rejects_unsafe_construct(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/templates", headers=auth_headers("marketer"),
                               json={"name": "x", "body": "{{ business_name.__class__ }}"})
    assert response.status_code == 422
    assert "private attribute" in response.json()["detail"]


def test_create_update_list_and_preview(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    created = app_client.post("/api/v1/templates", headers=headers, json={
        "name": "promo", "language": "fr", "body": "Salut {{ first_name | default('toi') }} ! -20% ce week-end",
    })
    assert created.status_code == 201, created.text
    template_id = created.json()["id"]
    with db.session_scope() as session:
        contact = create_contact(session, 1, first_name="Zoé")
        create_contact(session, 2)
        contact_id = contact.id
    preview = app_client.post("/api/v1/templates/preview", headers=headers,
                              json={"template_id": template_id, "contact_id": contact_id, "segment": {}})
    assert preview.status_code == 200, preview.text
    data = preview.json()
    assert data["text"] == "Salut Zoé ! -20% ce week-end\nRépondez STOP pour vous désinscrire"
    assert data["encoding"] == "GSM-7" and data["segments"] == 1
    assert data["recipients"] == 2
    assert data["estimated_cost_micros"] == 2 * data["cost_per_message_micros"] > 0
    updated = app_client.put(f"/api/v1/templates/{template_id}", headers=headers, json={
        "name": "promo", "language": "fr", "body": "Salut 😀 {{ first_name | default('toi') }}",
    })
    assert updated.status_code == 200
    again = app_client.post("/api/v1/templates/preview", headers=headers, json={"template_id": template_id})
    assert again.json()["encoding"] == "UCS-2"
    assert [t["id"] for t in app_client.get("/api/v1/templates", headers=headers).json()] == [template_id]


def test_analyst_cannot_write_templates(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/templates", headers=auth_headers("analyst"), json={"name": "x", "body": "y"})
    assert response.status_code == 403


def test_delete_is_refused_while_a_campaign_uses_it_and_audited(app_client: TestClient) -> None:
    with db.session_scope() as session:
        used = create_template(session, name="in use")
        spare = create_template(session, name="spare")
        create_campaign(session, used, name="Soldes")
        used_id, spare_id = used.id, spare.id
    headers = auth_headers("marketer")
    refused = app_client.delete(f"/api/v1/templates/{used_id}", headers=headers)
    assert refused.status_code == 409 and "campaign “Soldes”" in refused.json()["detail"]
    assert app_client.delete(f"/api/v1/templates/{spare_id}", headers=headers).status_code == 204
    assert app_client.delete(f"/api/v1/templates/{spare_id}", headers=headers).status_code == 404
    with db.session_scope() as session:
        assert [t.id for t in session.scalars(select(Template))] == [used_id]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "template.delete")).one()
        assert entry.target_id == str(spare_id) and entry.actor_type != "system"


def test_media_urls_must_be_public(app_client: TestClient) -> None:
    body = {"name": "mms", "body": "Nouveautés", "media": [{"url": "http://127.0.0.1:6379/x.jpg",
                                                               "content_type": "image/jpeg"}]}
    refused = app_client.post("/api/v1/templates", headers=auth_headers("marketer"), json=body)
    assert refused.status_code == 422 and "media[0].url" in refused.json()["detail"]
