"""Small builders for contact tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from contacts import service
from contacts.models import Contact


def phone(n: int) -> str:
    """A valid French mobile number, distinct per ``n``."""
    return f"+336{n:08d}"


def create_contact(session: Session, n: int, **fields: Any) -> Contact:
    return service.create(session, phone=phone(n), **fields)
