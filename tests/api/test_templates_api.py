"""Templates over HTTP: 422 naming the variable and line, preview with encoding, segments and cost."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core import db
from tests.campaigns.factories import create_contact
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
