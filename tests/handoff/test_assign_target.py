"""A conversation goes only to someone who can open it: an active agent or admin.

``POST /conversations/{id}/assign`` and ``/transfer`` took any user id, so a thread could be given
to an analyst or a marketer (who cannot open conversations) or to a deactivated account, and wait
there unanswered with its SLA running.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from conversations.models import Conversation
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
        boss = accounts.create_user(session, email="boss@example.com", password="long enough password", role="admin")
        accounts.open_console_session(session, user=boss, verified=True)  # at a console, as a taker must be
        admin = boss.id
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


def test_the_api_refuses_in_words_to_assign_to_an_agent_not_at_a_console(app_client: TestClient) -> None:
    """Accepted before (200), then put back in the queue by the SLA job ~30 s later without a word."""
    with db.session_scope() as session:
        absent = create_agent(session, "lea@example.com", signed_in=False).id
        conversation = create_conversation(session).id
    refused = app_client.post(f"/api/v1/conversations/{conversation}/assign", json={"user_id": absent},
                              headers=auth_headers("agent"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("lea is not signed in to the console, so the conversation would")
    with db.session_scope() as session:
        assert session.get(Conversation, conversation).assigned_user_id is None  # type: ignore[union-attr]
