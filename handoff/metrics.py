"""Supervisor figures: queue depth, waiting and handle times, SLA breaches, bot containment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations.models import Conversation
from core.db import utcnow
from handoff import service
from handoff.models import HANDED_BACK, Escalation, Team, TeamMember


@dataclass(frozen=True)
class AgentFigures:
    user_id: int
    name: str
    status: str
    active: int
    resolved: int  # closed by the agent (any disposition): the agent finished the customer's matter
    handed_back: int  # returned to the bot: the matter may still be open, so not counted as resolved
    avg_handle_minutes: float | None


@dataclass(frozen=True)
class SupervisorFigures:
    queue_depth: int
    oldest_wait_minutes: float
    avg_wait_minutes: float | None
    avg_handle_minutes: float | None
    sla_breaches: int
    conversations: int
    escalated_conversations: int
    containment_rate: float | None
    agents: list[AgentFigures] = field(default_factory=list)
    teams: dict[str, int] = field(default_factory=dict)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _minutes(pairs: list[tuple[datetime | None, datetime | None]]) -> float | None:
    spans = [(_aware(b) - _aware(a)).total_seconds() / 60 for a, b in pairs if a and b]
    return round(sum(spans) / len(spans), 2) if spans else None


@dataclass(frozen=True)
class Waiting:
    """The live queue: escalations no agent has taken yet, and how long the oldest has waited (0: none)."""

    depth: int
    oldest_wait_seconds: float


def waiting_now(session: Session, now: datetime) -> Waiting:
    """The queue at ``now`` (aware), counted in SQL: the supervisor's page and the operators' metrics read it."""
    depth, oldest = session.execute(
        select(func.count(), func.min(Escalation.created_at)).where(Escalation.status == "open")
    ).one()
    return Waiting(int(depth), max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0)


def supervisor_figures(session: Session, *, window: timedelta = timedelta(days=1)) -> SupervisorFigures:
    """Figures over ``window`` (the live queue is always the current one)."""
    now = utcnow()
    since = now - window
    waiting = waiting_now(session, now)
    recent = session.execute(
        select(
            Escalation.created_at,
            Escalation.assigned_at,
            Escalation.resolved_at,
            Escalation.assigned_user_id,
            Escalation.disposition,
        ).where(Escalation.created_at >= since)
    ).all()
    breaches = (
        session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.sla_breached.is_(True), Escalation.created_at >= since)
        )
        or 0
    )
    total = session.scalar(select(func.count()).select_from(Conversation).where(Conversation.created_at >= since)) or 0
    escalated = (
        session.scalar(
            select(func.count(func.distinct(Escalation.conversation_id))).where(Escalation.created_at >= since)
        )
        or 0
    )
    active = dict(
        session.execute(
            select(Conversation.assigned_user_id, func.count())
            .where(Conversation.state == "human")
            .group_by(Conversation.assigned_user_id)
        ).all()
    )
    agents = []
    for profile, user in service.agents(session):  # an agent who never set a status is listed as offline
        rows = [r for r in recent if r.assigned_user_id == user.id]
        mine = [(r.assigned_at, r.resolved_at) for r in rows]
        ended = [r for r in rows if r.resolved_at]
        agents.append(
            AgentFigures(
                user_id=user.id,
                name=user.name or user.email,
                status=profile.status,
                active=int(active.get(user.id, 0)),
                resolved=sum(1 for r in ended if r.disposition != HANDED_BACK),
                handed_back=sum(1 for r in ended if r.disposition == HANDED_BACK),
                avg_handle_minutes=_minutes(mine),
            )
        )
    teams = {
        name: int(count)
        for name, count in session.execute(
            select(Team.name, func.count(TeamMember.id)).join(TeamMember, isouter=True).group_by(Team.name)
        )
    }
    return SupervisorFigures(
        queue_depth=waiting.depth,
        oldest_wait_minutes=round(waiting.oldest_wait_seconds / 60, 2),
        avg_wait_minutes=_minutes([(r.created_at, r.assigned_at) for r in recent]),
        avg_handle_minutes=_minutes([(r.assigned_at, r.resolved_at) for r in recent]),
        sla_breaches=int(breaches),
        conversations=int(total),
        escalated_conversations=int(escalated),
        containment_rate=round(1 - escalated / total, 4) if total else None,
        agents=agents,
        teams=teams,
    )
