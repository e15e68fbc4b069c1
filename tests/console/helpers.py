"""Console test helpers: a logged-in agent (password + TOTP) on a TestClient, escalated threads."""

from __future__ import annotations

from typing import Any

import pyotp
from fastapi.testclient import TestClient

from conversations.models import Conversation, Message
from core import accounts, db
from core.audit import SYSTEM
from core.security import totp
from handoff import flows
from tests.handoff.factories import create_agent, create_conversation

PASSWORD = "long enough password"


def create_console_user(email: str, *, role: str = "agent", status: str = "online") -> tuple[int, str]:
    """A user with confirmed TOTP; returns ``(user_id, totp_secret)`` (committed)."""
    with db.session_scope() as session:
        if role == "agent":
            user = create_agent(session, email, status=status, languages=["en", "fr"])
        else:
            user = accounts.create_user(session, email=email, password=PASSWORD, role=role)
        secret = totp.new_enrolment(user.email).secret
        user.totp_secret = secret  # confirmed without spending a code the test logs in with
        return user.id, secret


def log_in(client: TestClient, email: str, secret: str) -> str:
    """Password then TOTP through the REST API, as the log-in page does; returns the CSRF token."""
    out = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert out.status_code == 200, out.text
    assert out.json()["needs_second_factor"] is True
    verified = client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()})
    assert verified.status_code == 200, verified.text
    return str(out.json()["csrf_token"])


def customer_message(conversation: Conversation, body: str, **fields: Any) -> Message:
    """An inbound text of ``conversation``'s customer, as the inbound path stores it."""
    return Message(conversation_id=conversation.id, contact_id=conversation.contact_id, direction="in",
                   author_type="customer", body=body, status="received", lane="conversational", **fields)


def escalated_conversation(phone: str, text: str = "I want to talk to a human", *, language: str = "en") -> int:
    """A conversation with one inbound message, escalated through ``handoff.flows.escalate``."""
    with db.session_scope() as session:
        conversation = create_conversation(session, phone, language=language)
        session.add(
            customer_message(
                conversation,
                text,
                analysis={
                    "language": {"code": language, "confidence": 0.97, "detector": "lingua"},
                    "sentiment": {"label": "negative", "score": -0.4},
                    "intent": {"name": "human_request", "confidence": 0.93},
                    "decision": {"action": "escalate", "confidence": 0.93},
                },
            )
        )
        session.flush()
        flows.escalate(session, conversation=conversation, reason="human_requested", notify_customer=False)
        return conversation.id


def conversation_state(conversation_id: int) -> tuple[str, int | None]:
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.state, conversation.assigned_user_id


def assign(conversation_id: int, user_id: int) -> None:
    with db.session_scope() as session:
        flows.assign(session, conversation_id=conversation_id, user_id=user_id, actor=SYSTEM)
