"""Handoff reference data: teams and their members, canned responses, the queue listing, handed-back threads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversations.models import Conversation
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import AuditEntry, User
from core.rbac import Role
from handoff.models import HANDED_BACK, ROUTING_STRATEGIES, AgentProfile, CannedResponse, Escalation, Team, TeamMember


def create_team(
    session: Session,
    *,
    name: str,
    skills: list[str],
    languages: list[str],
    routing: str = "least_busy",
    sla_minutes: int = 10,
) -> Team:
    if routing not in ROUTING_STRATEGIES:
        raise ValidationFailed(f"routing must be one of {', '.join(ROUTING_STRATEGIES)}", errors=[{"field": "routing"}])
    if session.scalar(select(Team).where(Team.name == name)):
        raise Conflict(f"a team named {name!r} exists")
    team = Team(name=name, skills=skills, languages=languages, routing=routing, sla_minutes=sla_minutes)
    session.add(team)
    session.flush()
    return team


def add_member(session: Session, *, team_id: int, user_id: int) -> TeamMember:
    if session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} not found")
    if session.get(User, user_id) is None:
        raise ValidationFailed(f"user {user_id} does not exist", errors=[{"field": "user_id", "reason": "not_found"}])
    found = session.scalar(select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id))
    if found is not None:
        return found
    member = TeamMember(team_id=team_id, user_id=user_id)
    session.add(member)
    session.flush()
    return member


#: the roles whose users take conversations (``flows.assign`` refuses anyone else)
AGENT_ROLES = (Role.AGENT, Role.ADMIN)


def agents(session: Session) -> list[tuple[AgentProfile, User]]:
    """Every active user with the agent or admin role and their profile, by user id: who the supervisor
    page lists and a conversation may be transferred to.

    A profile row is written when the agent first sets a status (``flows.set_agent_status``) or an admin
    sets their capacity, as before; until then the agent is listed with an unsaved default profile
    (offline, the default capacity, any language and skill), so listing writes nothing. The agents of a
    new install (the demo's among them) had no profile until they went online, and the supervisor page
    said "No agents yet." while the Transfer menu offered nobody.
    """
    users = session.scalars(
        select(User).where(User.is_active.is_(True), User.role.in_([str(r) for r in AGENT_ROLES])).order_by(User.id)
    ).all()
    ids = [u.id for u in users]
    stored = {p.user_id: p for p in session.scalars(select(AgentProfile).where(AgentProfile.user_id.in_(ids)))}
    return [(stored.get(u.id) or unsaved_profile(u.id), u) for u in users]


def unsaved_profile(user_id: int) -> AgentProfile:
    """The profile a first status change would write, not added to the session (column defaults apply only
    on insert, so they are read from the table)."""
    columns = AgentProfile.__table__.c
    return AgentProfile(
        user_id=user_id,
        status=columns.status.default.arg,
        max_concurrent=columns.max_concurrent.default.arg,
        skills=[],
        languages=[],
    )


def team_ids_of(session: Session, user_id: int) -> list[int]:
    return list(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)))


def create_canned(session: Session, *, title: str, body: str, language: str, shortcut: str = "") -> CannedResponse:
    if not body.strip():
        raise ValidationFailed("canned response body is empty", errors=[{"field": "body"}])
    canned = CannedResponse(title=title, body=body, language=language, shortcut=shortcut)
    session.add(canned)
    session.flush()
    return canned


def get_canned(session: Session, canned_id: int) -> CannedResponse:
    """Raises ``NotFound`` for an unknown id."""
    canned = session.get(CannedResponse, canned_id)
    if canned is None:
        raise NotFound(f"canned response {canned_id} not found")
    return canned


def update_canned(session: Session, canned_id: int, *, title: str, body: str, language: str,
                  shortcut: str = "") -> tuple[CannedResponse, dict[str, list[object]]]:
    """Replace a canned response's fields; returns it and the ``{field: [old, new]}`` diff for the audit."""
    if not body.strip():
        raise ValidationFailed("canned response body is empty", errors=[{"field": "body"}])
    canned = get_canned(session, canned_id)
    diff: dict[str, list[object]] = {}
    for key, value in {"title": title, "body": body, "language": language, "shortcut": shortcut}.items():
        if getattr(canned, key) != value:
            diff[key] = [getattr(canned, key), value]
            setattr(canned, key, value)
    session.flush()
    return canned, diff


def delete_canned(session: Session, canned_id: int) -> CannedResponse:
    """Remove a canned response; returns the deleted row (its title is kept in the audit)."""
    canned = get_canned(session, canned_id)
    session.delete(canned)
    session.flush()
    return canned


def canned_for(session: Session, language: str | None) -> list[CannedResponse]:
    stmt = select(CannedResponse).order_by(CannedResponse.title)
    if language:
        stmt = stmt.where(CannedResponse.language == language[:2])
    return list(session.scalars(stmt))


def canned_in(session: Session, language: str | None) -> list[CannedResponse]:
    """One version of each canned response for a conversation in ``language``: a response known by
    the same shortcut (else the same title) in several languages is a set of translations, and the
    one in ``language`` is chosen when it exists, else the English one (the language the bot answers in
    when it has nothing in the customer's: a Spanish customer of a French shop was offered the French
    replies), else the first written; a response with no translation is offered as it is, so an agent is
    never left with none. Ordered by title."""
    preference = [(language or "")[:2], FALLBACK_LANGUAGE]
    chosen: dict[str, CannedResponse] = {}
    for canned in session.scalars(select(CannedResponse).order_by(CannedResponse.id)):
        key = canned.shortcut or canned.title
        if key not in chosen or _rank(canned.language, preference) < _rank(chosen[key].language, preference):
            chosen[key] = canned
    return sorted(chosen.values(), key=lambda c: c.title)


FALLBACK_LANGUAGE = "en"  # as agent.responder's answers in another language than the customer's


def _rank(language: str, preference: list[str]) -> int:
    return preference.index(language) if language in preference else len(preference)


def queue(session: Session) -> list[tuple[Escalation, Conversation]]:
    """Waiting escalations, most urgent then oldest first."""
    rows = session.execute(
        select(Escalation, Conversation)
        .join(Conversation, Conversation.id == Escalation.conversation_id)
        .where(Escalation.status == "open")
        .order_by(Escalation.priority, Escalation.created_at)
    )
    return [(e, c) for e, c in rows]


def handed_back(session: Session, conversation_ids: Iterable[int]) -> set[int]:
    """The ids among ``conversation_ids`` whose latest escalation an agent handed back to the bot.

    The agent may still have such a thread open in the console; one query whatever the number of ids.
    """
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return set()
    latest = (
        select(func.max(Escalation.id)).where(Escalation.conversation_id.in_(ids)).group_by(Escalation.conversation_id)
    )
    return set(
        session.scalars(
            select(Escalation.conversation_id).where(Escalation.id.in_(latest), Escalation.disposition == HANDED_BACK)
        )
    )


@dataclass(frozen=True)
class Ending:
    """How a person ended their stretch on a conversation, for the summary an agent reads."""

    how: str  # "handed_back" | "closed"
    at: datetime
    by: str  # the person (their name, else e-mail) or the key or system that did it; "" when unknown
    disposition: str | None = None  # a close's


def ending(session: Session, conversation: Conversation) -> Ending | None:
    """How ``conversation`` stands after a person's stretch: closed, or handed back to the bot and not
    escalated since; ``None`` while it is with the bot untouched, waiting or with an agent.

    When and by whom come from the audit log's ``conversation.close`` / ``conversation.handback`` entry."""
    if conversation.state == "closed":
        how, action = "closed", "conversation.close"
    elif conversation.state == "bot" and conversation.id in handed_back(session, [conversation.id]):
        how, action = HANDED_BACK, "conversation.handback"
    else:
        return None
    entry = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.target_type == "conversation",
               AuditEntry.target_id == str(conversation.id))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )  # fmt: skip
    at = entry.at if entry is not None else (conversation.closed_at or conversation.updated_at)
    disposition = (entry.diff or {}).get("disposition") if entry is not None and how == "closed" else None
    return Ending(how, at, _actor_words(session, entry), disposition)


def _actor_words(session: Session, entry: AuditEntry | None) -> str:
    if entry is None:
        return ""
    user = session.get(User, int(entry.actor_id)) if entry.actor_type == "user" and entry.actor_id.isdigit() else None
    return (user.name or user.email) if user is not None else entry.actor_name
