"""Human handoff: teams, agents' availability, escalations with SLA, notes, canned responses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.types import EncryptedText

AGENT_STATUSES = ("online", "away", "offline")
ROUTING_STRATEGIES = ("least_busy", "round_robin")
ESCALATION_STATUSES = ("open", "assigned", "resolved")
# The disposition of an escalation ended by handing the conversation back to the bot: it ends the
# agent's stretch but is not a resolution of the customer's matter (supervisor figures count it apart).
HANDED_BACK = "handed_back"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    routing: Mapped[str] = mapped_column(String(20), default="least_busy")
    sla_minutes: Mapped[int] = mapped_column(Integer, default=10)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_members_team_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class AgentProfile(Base):
    """A console user's availability and capacity for routing."""

    __tablename__ = "agent_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="offline", index=True)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=5)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(Base):
    """One stretch of human ownership of a conversation, from escalation to resolution."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    reason_code: Mapped[str] = mapped_column(String(40))
    reason_text: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=2)  # 1 urgent .. 4 low
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sentiment: Mapped[float | None] = mapped_column(nullable=True)
    skill: Mapped[str | None] = mapped_column(String(60), nullable=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), nullable=True)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sla_due_at: Mapped[datetime] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    requeue_count: Mapped[int] = mapped_column(Integer, default=0)


class Note(Base):
    """An internal note on a conversation, never sent to the customer."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedResponse(Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8), default="en")
    body: Mapped[str] = mapped_column(Text)
    shortcut: Mapped[str] = mapped_column(String(40), default="")
