"""Canned responses through the REST API: agents create, list, replace and delete them, each change audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from core import db
from core.models import AuditEntry
from tests.helpers import auth_headers


def test_agents_manage_canned_responses_through_the_api(app_client: TestClient) -> None:
    agent = auth_headers("agent")
    made = app_client.post("/api/v1/handoff/canned", headers=agent,
                           json={"title": "Hours", "body": "We open at 9.", "language": "en"})
    assert made.status_code == 201, made.text
    canned_id = made.json()["id"]
    replaced = app_client.put(f"/api/v1/handoff/canned/{canned_id}", headers=agent,
                              json={"title": "Hours", "body": "We open at 10.", "language": "en"})
    assert replaced.status_code == 200 and replaced.json()["body"] == "We open at 10."
    unchanged = app_client.put(f"/api/v1/handoff/canned/{canned_id}", headers=agent,
                               json={"title": "Hours", "body": "We open at 10.", "language": "en"})
    assert unchanged.status_code == 200
    blank = app_client.put(f"/api/v1/handoff/canned/{canned_id}", headers=agent,
                           json={"title": "Hours", "body": "   ", "language": "en"})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body"
    listed = app_client.get("/api/v1/handoff/canned?language=en", headers=agent).json()
    assert [c["body"] for c in listed] == ["We open at 10."]
    assert app_client.delete(f"/api/v1/handoff/canned/{canned_id}", headers=agent).status_code == 204
    assert app_client.delete(f"/api/v1/handoff/canned/{canned_id}", headers=agent).status_code == 404
    assert app_client.get("/api/v1/handoff/canned", headers=agent).json() == []
    with db.session_scope() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "canned_response"))
        assert [e.action for e in entries] == ["canned.create", "canned.update", "canned.delete"]
    marketer = auth_headers("marketer")
    assert app_client.post("/api/v1/handoff/canned", headers=marketer,
                           json={"title": "x", "body": "y"}).status_code == 403
