"""Senders (our numbers, short codes and alphanumeric ids) and provider accounts.

A sender's ``throughput`` (messages/s) feeds the delivery limiter, as does its provider account's,
so neither a carrier's per-number limit nor the account's contractual rate is ever exceeded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

SENDER_KINDS = ("long_code", "short_code", "toll_free", "alphanumeric")
SENDER_STATUSES = ("active", "disabled")
CAPABILITIES = ("sms", "mms")


class Sender(Base):
    __tablename__ = "senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # E.164 for long codes and toll-free, 5-6 digits for short codes, 3-11 characters for alphanumeric ids
    address: Mapped[str] = mapped_column(String(32), unique=True)
    # ISO 3166 country the sender may text; "" = any country (simulator, international long code)
    country: Mapped[str] = mapped_column(String(2), default="", index=True)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["sms"])
    throughput: Mapped[float] = mapped_column(Float, default=1.0)  # messages per second
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    provider_account: Mapped[str] = mapped_column(String(40), default="default")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProviderAccount(Base):
    """A provider account's overall rate (messages/s), shared by all its senders."""

    __tablename__ = "provider_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    throughput: Mapped[float] = mapped_column(Float, default=30.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
