"""``create_*`` helpers for handoff tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from contacts.service import get_or_create_by_phone
from conversations.models import Conversation
from core import accounts
from core.models import User
from handoff.models import AgentProfile


def create_agent(
    session: Session, email: str, *, status: str = "online", languages: list[str] | None = None,
    max_concurrent: int = 3, signed_in: bool = True,
) -> User:
    """An agent; ``signed_in``: at a console (a live session), as routing wants an agent to be to get conversations."""
    user = accounts.create_user(session, email=email, password="long enough password", role="agent")
    session.add(AgentProfile(user_id=user.id, status=status, languages=languages or [], max_concurrent=max_concurrent))
    session.flush()
    if signed_in:
        accounts.open_console_session(session, user=user, verified=True)
    return user


def create_conversation(session: Session, phone: str = "+33612345678", *, language: str | None = "fr") -> Conversation:
    contact, _ = get_or_create_by_phone(session, phone_e164=phone, language=language)
    conversation = Conversation(contact_id=contact.id, sender="RELAIS", language=language, state="bot")
    session.add(conversation)
    session.flush()
    return conversation
