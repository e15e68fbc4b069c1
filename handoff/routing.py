"""Choosing an agent for an escalation, as Chatwoot and Zendesk do.

Who may take it (:func:`candidates`): online and at a console (a live session: ``core.accounts.signed_in``),
active, still an agent or an admin, with room left under ``max_concurrent``, in the escalation's team when it has
one, and able to take its language and skill: an agent who lists no languages (no skills) takes any, one who lists
some takes only those. "Online" is the agent's choice and stays as set while they are away from the console, as
Chatwoot's availability does; their conversations go back to the queue when no session of theirs is left
(:func:`absent_owners`, checked by the periodic SLA job).

Who gets it (:func:`pick`), ``least_busy``: the fewest open conversations; at equal load an agent
who lists the customer's language before one who lists none; then the longest idle. An idle agent
who set no languages therefore gets the next conversation before a speaker who already has one open
(the speaker had every French escalation while the other agent sat idle). ``round_robin``: the
longest idle, the same language tie-break.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from conversations.models import Conversation
from core import accounts
from core.db import utcnow
from core.models import User
from core.rbac import Role
from handoff.models import AgentProfile, Escalation, TeamMember

#: the roles conversations are routed to (a user moved to marketer or analyst keeps their agent profile)
TAKES_CONVERSATIONS = (Role.AGENT, Role.ADMIN)


def _able() -> Select[int]:
    """The users a conversation may be with: at a console (a live verified session), active, an agent or admin."""
    return select(User.id).where(User.is_active.is_(True), User.role.in_(TAKES_CONVERSATIONS),
                                 User.id.in_(accounts.signed_in(utcnow())))  # fmt: skip


def absent_owners(session: Session) -> list[int]:
    """Users who own conversations and can no longer answer them: no live console session, deactivated, or moved
    to a role conversations are not routed to."""
    owners = select(Conversation.assigned_user_id).where(
        Conversation.state == "human", Conversation.assigned_user_id.is_not(None)).distinct()
    return [int(u or 0) for u in session.scalars(owners.where(Conversation.assigned_user_id.not_in(_able())))]


def at_console(session: Session, user_ids: Collection[int]) -> set[int]:
    """Which of ``user_ids`` may be given a conversation now: anyone else would have it put back in the queue by
    the next SLA run (:func:`absent_owners`), so a transfer to them came back to the sender half a minute later."""
    return set(session.scalars(_able().where(User.id.in_(list(user_ids))))) if user_ids else set()


@dataclass(frozen=True)
class Candidate:
    user_id: int
    active: int
    last_assigned_at: datetime | None
    #: the agent lists the conversation's language (False when it lists none, or the language is unknown)
    speaks: bool = False


def active_counts(session: Session) -> dict[int, int]:
    """Conversations each agent owns right now."""
    rows = session.execute(
        select(Conversation.assigned_user_id, func.count())
        .where(Conversation.state == "human", Conversation.assigned_user_id.is_not(None))
        .group_by(Conversation.assigned_user_id)
    )
    return {int(user_id or 0): int(count) for user_id, count in rows}


def candidates(session: Session, escalation: Escalation, *, exclude: set[int] | None = None) -> list[Candidate]:
    """Online agents with room left who speak the language and have the skill (when known)."""
    stmt = (
        select(AgentProfile)
        .join(User, User.id == AgentProfile.user_id)
        .where(AgentProfile.status == "online", User.is_active.is_(True), User.role.in_(TAKES_CONVERSATIONS),
               AgentProfile.user_id.in_(accounts.signed_in(utcnow())))
    )
    if escalation.team_id is not None:
        members = select(TeamMember.user_id).where(TeamMember.team_id == escalation.team_id)
        stmt = stmt.where(AgentProfile.user_id.in_(members))
    counts = active_counts(session)
    found = []
    for profile in session.scalars(stmt):
        if exclude and profile.user_id in exclude:
            continue
        if escalation.language and profile.languages and escalation.language not in profile.languages:
            continue
        if escalation.skill and profile.skills and escalation.skill not in profile.skills:
            continue
        active = counts.get(profile.user_id, 0)
        if active >= profile.max_concurrent:
            continue
        speaks = bool(escalation.language) and escalation.language in (profile.languages or [])
        found.append(Candidate(profile.user_id, active, profile.last_assigned_at, speaks))
    return found


def pick(found: list[Candidate], strategy: str) -> Candidate | None:
    """The candidate who gets the escalation, ``None`` when there is none.

    ``least_busy``: fewest open conversations (a count, not a share of capacity: an agent of capacity
    10 with two open was picked before one of capacity 3 with one), then one who lists the customer's
    language before one who lists none, then longest idle; ``round_robin``: longest idle, then the
    same language tie-break. The user id settles what is left, so the choice is repeatable."""
    if not found:
        return None
    epoch = datetime.min.replace(tzinfo=UTC)

    def idle_key(c: Candidate) -> datetime:
        last = c.last_assigned_at
        if last is None:
            return epoch
        return last if last.tzinfo else last.replace(tzinfo=UTC)

    if strategy == "round_robin":
        return min(found, key=lambda c: (idle_key(c), not c.speaks, c.user_id))
    return min(found, key=lambda c: (c.active, not c.speaks, idle_key(c), c.user_id))
