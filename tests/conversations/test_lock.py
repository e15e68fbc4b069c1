"""The per-conversation lock shared by the inbound job and people's actions (real Redis)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conversations import lock
from conversations.lock import changing, conversation_lock
from conversations.models import Conversation
from core import db
from core.errors import Conflict
from core.settings import Settings
from handoff import flows
from tests.core.test_queue import CountingConnection, counting_client
from tests.handoff.factories import create_agent, create_conversation
from tests.helpers import auth_headers


def _new_conversation(phone: str) -> int:
    with db.session_scope() as session:
        conversation = create_conversation(session, phone)
        flows.escalate(session, conversation=conversation, reason="human_requested", reason_text="asked for a person")
        return conversation.id


def _state(conversation_id: int) -> str:
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.state


def test_a_change_is_committed_before_the_lock_is_let_go(runtime: Settings) -> None:
    conversation_id = _new_conversation("+33600000301")
    with db.session_scope() as session:
        with changing(session, conversation_id):
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            conversation.state = "closed"
        # still inside the caller's transaction scope: another session already sees the change
        assert _state(conversation_id) == "closed"
        with conversation_lock(conversation_id, wait=0.1):
            pass  # and the lock is free


def test_a_busy_conversation_is_a_conflict_and_nothing_changes(runtime: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "ACTION_WAIT_SECONDS", 0.2)
    conversation_id = _new_conversation("+33600000302")
    with (
        conversation_lock(conversation_id),  # the bot is answering
        db.session_scope() as session,
        pytest.raises(Conflict, match="busy"),
        changing(session, conversation_id),
    ):
        pytest.fail("the body must not run without the lock")


def test_agent_actions_wait_for_the_bot(app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "ACTION_WAIT_SECONDS", 0.2)
    conversation_id = _new_conversation("+33600000303")
    with db.session_scope() as session:
        agent_id = create_agent(session, "locked@example.com").id
    headers = auth_headers("agent")
    assign = f"/api/v1/conversations/{conversation_id}/assign"
    with conversation_lock(conversation_id):  # what the inbound job holds while it answers
        busy = app_client.post(assign, json={"user_id": agent_id}, headers=headers)
        assert busy.status_code == 409 and "busy" in busy.json()["detail"]
        assert _state(conversation_id) == "queued"
    done = app_client.post(assign, json={"user_id": agent_id}, headers=headers)
    assert done.status_code == 200 and done.json()["state"] == "human"
    reply = app_client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Bonjour"},
                            headers=headers)
    assert reply.status_code == 202
    with conversation_lock(conversation_id, wait=0.1):
        pass  # every action let the lock go


def test_a_batch_takes_and_releases_its_locks_in_one_round_trip_each(runtime: Settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The inbound batch's locks: the busy ones reported and left to their holder, the others taken
    and released, two Redis round trips whatever the batch's size; a lock that expired under the
    batch and was taken by someone else is not released by it."""
    client = counting_client(runtime.redis_url or "")
    monkeypatch.setattr(lock, "get_redis", lambda settings: client)
    with lock.conversation_locks([99]):
        pass  # Redis learns the release script
    with conversation_lock(3):  # a person acting on conversation 3
        before = CountingConnection.sent
        with lock.conversation_locks([1, 2, 3, 4, *range(10, 30)]) as busy:
            assert busy == {3}
            assert client.get(lock.conversation_lock_name(1)) is not None
            client.set(lock.conversation_lock_name(2), "another holder")  # ours expired, someone took it
            during = CountingConnection.sent
        assert during - before == 1 + 2  # the batch's SETs, then the two reads above
        assert CountingConnection.sent - during == 1
        assert client.get(lock.conversation_lock_name(1)) is None
        assert client.get(lock.conversation_lock_name(2)) == b"another holder"
        assert client.get(lock.conversation_lock_name(3)) is not None, "the person's lock is theirs"
    assert lock.conversation_locks([]).__enter__() == set()
