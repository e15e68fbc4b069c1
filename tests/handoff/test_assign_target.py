"""A conversation goes only to someone who can open it: an active agent or admin.

``POST /conversations/{id}/assign`` and ``/transfer`` took any user id, so a thread could be given
to an analyst or a marketer (who cannot open conversations) or to a deactivated account, and wait
there unanswered with its SLA running.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from core import accounts, db
from tests.handoff.factories import create_agent, create_conversation
from tests.helpers import auth_headers


def test_assign_and_transfer_only_to_an_active_agent_or_admin(app_client: TestClient) -> None:
    with db.session_scope() as session:
        agent = create_agent(session, "ana@example.com").id
        gone = create_agent(session, "bob@example.com")
        gone.is_active = False
        analyst = accounts.create_user(session, email="qa@example.com", password="long enough password",
                                       role="analyst").id
        marketer = accounts.create_user(session, email="mk@example.com", password="long enough password",
                                        role="marketer").id
        admin = accounts.create_user(session, email="boss@example.com", password="long enough password",
                                     role="admin").id
        conversation = create_conversation(session).id
        gone_id = gone.id
    headers = auth_headers("agent")
    url = f"/api/v1/conversations/{conversation}"
    for user_id in (analyst, marketer, gone_id, 999_999):
        for path, body in (("/assign", {"user_id": user_id}), ("/transfer", {"to_user_id": user_id})):
            refused = app_client.post(url + path, json=body, headers=headers)
            assert refused.status_code == 422, (path, user_id, refused.text)
            assert refused.json()["errors"][0]["field"] == "user_id"
    for user_id in (agent, admin):
        taken = app_client.post(url + "/assign", json={"user_id": user_id}, headers=headers)
        assert taken.status_code == 200 and taken.json()["assigned_user_id"] == user_id
