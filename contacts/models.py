"""Contacts: people Relais texts. Phone, name and attributes are encrypted at rest.

The phone number is looked up through ``phone_index`` (a keyed HMAC blind index of the E.164
form, see ``core.crypto.blind_index``), never through its ciphertext.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.types import EncryptedJSON, EncryptedText


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # None once erased
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    country: Mapped[str] = mapped_column(String(2), default="")
    name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    first_name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Denormalised from the consent ledger so send-time checks are one indexed read.
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
