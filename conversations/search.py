"""Finding past conversations the way an agent remembers them: by the customer's number or name.

The inbox lists open conversations only; a closed one (the customer who texts back a week later,
"we spoke last Tuesday") is found here. The contact is matched by ``contacts.search`` (a number
through the blind index, a name or e-mail decrypted and compared, at most ``SCAN_LIMIT`` contacts
per call), then every conversation of those contacts is listed, newest message first, whatever
its state. ``GET /api/v1/conversations?q=`` filters its list by the same contacts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Contact
from contacts.search import search
from conversations.models import Conversation

CONTACTS_LIMIT = 50
CONVERSATIONS_LIMIT = 100


@dataclass(frozen=True)
class Found:
    """Conversations with their contact, newest message first; ``partial`` when the contact search
    stopped before the end (too many contacts to decrypt in one request, or more than
    ``CONTACTS_LIMIT`` matches): a narrower text finds the rest."""

    conversations: list[tuple[Conversation, Contact]]
    partial: bool


def contacts_named(session: Session, text: str, *, region: str | None = None) -> tuple[dict[int, Contact], bool]:
    """The contacts ``text`` names (a number in any form, or part of a name or e-mail), by id, and
    whether the contact search stopped before the end (see :class:`Found`). An empty text names nobody."""
    if not text.strip():
        return {}, False
    page = search(session, text=text, limit=CONTACTS_LIMIT, region=region)
    return {c.id: c for c in page.contacts}, page.next_after_id is not None


def find(session: Session, text: str, *, region: str | None = None) -> Found:
    """The conversations of the contacts ``text`` names (:func:`contacts_named`), newest message first.

    An empty text finds nothing (an agent browses open work in the inbox views).
    """
    contacts, partial = contacts_named(session, text, region=region)
    if not contacts:
        return Found([], partial)
    rows = session.scalars(
        select(Conversation)
        .where(Conversation.contact_id.in_(contacts))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(CONVERSATIONS_LIMIT + 1)
    ).all()
    return Found([(c, contacts[c.contact_id]) for c in rows[:CONVERSATIONS_LIMIT]],
                 partial or len(rows) > CONVERSATIONS_LIMIT)  # fmt: skip
