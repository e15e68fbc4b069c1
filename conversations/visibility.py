"""Which messages, and which contacts, a role may read through the API (least privilege).

Messages hold customers' words and numbers, so each role sees only the lanes it works with:

* ``admin``: every message;
* ``marketer``: marketing messages, and whatever the marketer (or the API key) sent itself;
  never inbound texts, bot or agent replies, or conversation threads;
* ``agent``: messages that belong to a conversation (inbound texts, the bot's and agents'
  replies, keyword confirmations), and whatever the agent (or the key) sent itself;
* ``analyst``: none (the route refuses them; they read aggregate campaign and QA reports).

A message the caller may not see is answered as if it did not exist (404), so ids reveal nothing.

Contacts (:func:`contact_visible_to`, :func:`readable_contact`): an agent reads the people who have a
conversation, the ones agents answer; marketers and admins read every contact. An agent (or an agent's
API key) listed every contact before, numbers imported for marketing that never texted included, while
the console showed agents only the contact card of a conversation. A contact the caller may not read
is answered as an unknown id (404).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from contacts import service as contacts
from contacts.models import Contact
from conversations.models import Conversation, Message
from core.errors import NotFound
from core.rbac import Role


@dataclass(frozen=True)
class Viewer:
    """The caller reading messages: its role, and how its own sends are authored."""

    role: Role
    kind: str  # "user" | "api_key"
    id: int

    @property
    def author(self) -> tuple[str, str]:
        """``(author_type, author_id)`` of messages this caller sent through the API."""
        return ("api" if self.kind == "api_key" else "agent", str(self.id))


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL condition selecting the messages ``viewer`` may read."""
    if viewer.role == Role.ADMIN:
        return true()
    author_type, author_id = viewer.author
    own = and_(Message.author_type == author_type, Message.author_id == author_id)
    if viewer.role == Role.MARKETER:
        return or_(and_(Message.lane == "marketing", Message.direction == "out"), own)
    if viewer.role == Role.AGENT:
        return or_(Message.conversation_id.is_not(None), own)
    return false()


def visible_provider_ids(session: Session, viewer: Viewer, provider_ids: Collection[str]) -> set[str]:
    """Which of these provider message ids name a message ``viewer`` may read (:func:`visible_to`).

    For views built from the provider's side rather than the ``messages`` table (the simulator's
    phones): the same lanes per role, so an analyst reads no text there either.
    """
    if not provider_ids:
        return set()
    rows = session.scalars(
        select(Message.provider_message_id).where(
            Message.provider_message_id.in_(list(provider_ids)), visible_to(viewer)
        )
    )
    return {row for row in rows if row is not None}


def contact_visible_to(role: Role) -> ColumnElement[bool]:
    """The SQL condition on ``contacts`` selecting the contacts ``role`` may read (an agent: those with a
    conversation; every other role the contacts routes admit: all)."""
    if role == Role.AGENT:
        return exists().where(Conversation.contact_id == Contact.id)
    return true()


def readable_contact(session: Session, role: Role, contact_id: int) -> Contact:
    """The contact ``role`` asks for by id.

    Raises:
        NotFound: no such contact, or one ``role`` may not read (the same words: ids reveal nothing).
    """
    contact = contacts.get(session, contact_id)
    if role == Role.AGENT and session.scalar(select(Contact.id).where(Contact.id == contact.id,
                                                                    contact_visible_to(role))) is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact
