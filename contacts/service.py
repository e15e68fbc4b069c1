"""Contact look-ups and creation by phone number (the E.164 blind index, never the ciphertext)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Contact
from core.crypto import blind_index


def find_by_phone(session: Session, phone_e164: str) -> Contact | None:
    """The contact with this E.164 number, or ``None``."""
    return session.scalar(select(Contact).where(Contact.phone_index == blind_index(phone_e164)))


def get_or_create_by_phone(
    session: Session, *, phone_e164: str, country: str = "", timezone: str | None = None, language: str | None = None
) -> tuple[Contact, bool]:
    """Return ``(contact, created)``; a new contact starts with no consent recorded."""
    found = find_by_phone(session, phone_e164)
    if found is not None:
        return found, False
    contact = Contact(
        phone=phone_e164,
        phone_index=blind_index(phone_e164),
        country=country,
        timezone=timezone,
        language=language,
        attributes={},
        tags=[],
    )
    session.add(contact)
    session.flush()
    return contact, True
