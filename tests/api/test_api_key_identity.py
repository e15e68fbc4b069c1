"""An API key acts as an integration, never as the console user whose id it happens to share.

Key ids and user ids are counted apart, so agent key 1 and agent user 1 both exist on a fresh
deployment; comparing ``principal.id`` with a user id took the key for that user.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from core import accounts, db
from handoff.models import AgentProfile
from tests.handoff.factories import create_agent, create_conversation


def _agent_key_numbered_like(user_id: int) -> dict[str, str]:
    """An agent API key whose row id equals ``user_id``."""
    with db.session_scope() as session:
        while True:
            key, secret = accounts.create_api_key(session, name="integration", role="agent")
            if key.id >= user_id:
                break
    assert key.id == user_id
    return {"Authorization": f"Bearer {secret}"}


def test_an_agent_key_is_not_the_user_with_its_id(app_client: TestClient) -> None:
    with db.session_scope() as session:
        user = create_agent(session, "ana@example.com", status="online")
        conversation = create_conversation(session)
        conversation.state, conversation.assigned_user_id = "human", user.id
        user_id, conversation_id = user.id, conversation.id
    headers = _agent_key_numbered_like(user_id)

    changed = app_client.post("/api/v1/handoff/status", json={"user_id": user_id, "status": "away"}, headers=headers)
    assert changed.status_code == 422  # only an admin sets another agent's status
    with db.session_scope() as session:
        assert session.get_one(AgentProfile, user_id).status == "online"

    for view in ("mine", "team"):
        listed = app_client.get("/api/v1/conversations", params={"view": view}, headers=headers)
        assert listed.status_code == 200 and listed.json() == []
    counts = app_client.get("/api/v1/conversations/counts", headers=headers).json()
    assert (counts["mine"], counts["team"], counts["all"]) == (0, 0, 1)
    assert [c["id"] for c in app_client.get("/api/v1/conversations", headers=headers).json()] == [conversation_id]
