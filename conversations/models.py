"""Threads and messages. A conversation is one contact talking with one of our senders.

State machine: ``bot`` (the agent answers) → ``queued`` (escalated, waiting for a person) →
``human`` (an agent owns it; the bot stays silent) → ``closed``; hand-back returns it to ``bot``.
Every message in or out — conversational, campaign or transactional — is a ``Message`` row, so a
reply to a campaign lands in the same thread with its context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.types import EncryptedJSON, EncryptedText

CONVERSATION_STATES = ("bot", "queued", "human", "closed")
MESSAGE_STATUSES = (
    "received",
    "accepted",
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "rejected",
    "expired",
    "unknown",
    "dead",
)
LANES = ("transactional", "conversational", "marketing")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_contact_sender", "contact_id", "sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(32))  # our number / short code / alphanumeric id
    channel: Mapped[str] = mapped_column(String(20), default="simulator")
    state: Mapped[str] = mapped_column(String(10), default="bot", index=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


# Statuses most rows end in: the status index leaves them out (see Message's indexes).
SETTLED_STATUSES = ("sent", "delivered", "received")
#: an outbound text that has not reached the provider yet (``delivery.states``: queued → sending → sent)
IN_FLIGHT = ("queued", "sending")


class Message(Base):
    __tablename__ = "messages"
    # Every status change of an outbound message (queued, sending, sent, delivered) is a new row version with an
    # entry in each index whose condition it meets (status is indexed, so no change is a HOT update). On
    # PostgreSQL three indexes leave out the rows they never need to find (migration 0016): a campaign message
    # has no conversation, no provider id until it is sent, and is looked up by status only while in flight or
    # in a rare status (a newest-first listing of a common one walks the primary key).
    __table_args__ = (
        Index(
            "uq_messages_provider_id",
            "provider",
            "provider_message_id",
            unique=True,
            postgresql_where=text("provider_message_id IS NOT NULL"),
        ),
        UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
        Index(
            "ix_messages_conversation_created",
            "conversation_id",
            "created_at",
            postgresql_where=text("conversation_id IS NOT NULL"),
        ),
        # a contact's messages, and those after a moment: a campaign report counts recipients who replied after
        # its message. Apart, (contact_id) and (created_at) let PostgreSQL, with statistics older than a new
        # campaign's rows, probe the time index for every recipient (a 30,000-recipient report ran > 100 s).
        Index("ix_messages_contact_created", "contact_id", "created_at"),
        # the delivery engine's due query and the recovery sweep: queued rows by planned time, sending rows
        Index(
            "ix_messages_status_not_before",
            "status",
            "not_before",
            postgresql_where=text(f"status NOT IN ({', '.join(repr(s) for s in SETTLED_STATUSES)})"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    body: Mapped[str] = mapped_column(EncryptedText)
    # attachments: provider media addresses often carry access tokens, captions and file names are the
    # person's words: encrypted like the body (migration 0019); never filtered on in SQL
    media: Mapped[list[dict[str, Any]]] = mapped_column(EncryptedJSON, default=list)
    sender: Mapped[str] = mapped_column(String(32), default="")
    provider: Mapped[str] = mapped_column(String(20), default="simulator")
    provider_message_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # looked up through ix_messages_status_not_before (status first): an index of its own only cost writes
    status: Mapped[str] = mapped_column(String(12), default="accepted")
    lane: Mapped[str] = mapped_column(String(16), default="conversational")
    # who wrote it: customer, bot, agent, system, campaign, api
    author_type: Mapped[str] = mapped_column(String(12), default="customer")
    author_id: Mapped[str] = mapped_column(String(64), default="")
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # a transactional text that may reach an opted-out number (contacts.consent.consent_verdicts):
    # the STOP/HELP replies compliance requires, or an administrator's audited override
    override_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    encoding: Mapped[str] = mapped_column(String(8), default="")
    segments: Mapped[int] = mapped_column(Integer, default=0)
    price_micros: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str] = mapped_column(String(40), default="")
    error_reason: Mapped[str] = mapped_column(String(500), default="")
    # the agent's view of an inbound message or the bot's reply: language, sentiment, intent,
    # decision, reason, sources, path (llm/offline), stage timings
    analysis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Delivery engine bookkeeping: a worker claims a row (queued → sending) with a fresh token
    # before calling the provider; a row stuck in "sending" past its lease is reconciled.
    claim_token: Mapped[str] = mapped_column(String(32), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The row is the truth about when a message may go (see delivery/authority.py): not before
    # ``not_before`` (UTC; NULL = now), never after ``expires_at`` (time-critical texts such as
    # one-time codes are closed ``expired`` instead). While it waits, ``wait_reason`` is a short
    # machine code (quiet_hours, country_rule, scheduled, throttled, paused, retry, rate_limited)
    # and ``wait_detail`` the same for people ("quiet hours until Mon 08:00 Europe/Paris").
    not_before: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    wait_reason: Mapped[str] = mapped_column(String(20), default="")
    wait_detail: Mapped[str] = mapped_column(String(200), default="")


class MessageProviderId(Base):
    """Every provider id of a sent message: a long text split by the provider has one per part,
    and delivery reports may name any of them."""

    __tablename__ = "message_provider_ids"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id", name="uq_message_provider_ids_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(100))


class InboundEvent(Base):
    """An inbound text as received from the provider, stored before anything else happens.

    The unique (provider, provider_message_id) makes a replayed webhook a no-op. Parts of a
    concatenated text share ``concat_key`` and are joined once all ``total`` parts are here.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id", name="uq_inbound_events_ref"),
        # the sweep and the operators' metrics look for unprocessed events only: a partial index keeps that
        # lookup as small as the backlog, where a scan read every text ever received (conversations/inbound_backlog.py)
        Index(
            "ix_inbound_events_unprocessed",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20), default="simulator")
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    concat_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    part: Mapped[int] = mapped_column(Integer, default=1)
    total: Mapped[int] = mapped_column(Integer, default=1)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
