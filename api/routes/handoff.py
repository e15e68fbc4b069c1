"""The escalation queue, agents' status, teams, canned responses and the supervisor figures."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import ValidationFailed
from core.rbac import Role
from handoff import flows, metrics, service
from handoff.models import AgentProfile, Team

router = APIRouter(prefix="/api/v1/handoff", tags=["handoff"])
AGENT = acting(Role.AGENT)
ADMIN = acting(Role.ADMIN)


class QueueItem(BaseModel):
    escalation_id: int
    conversation_id: int
    priority: int
    reason: str
    language: str | None
    waiting_since: datetime
    sla_due_at: datetime
    sla_breached: bool
    team_id: int | None


class StatusIn(RequestBody):
    status: str
    user_id: int | None = None  # admins may set someone else's


class ProfileOut(BaseModel):
    user_id: int
    status: str
    max_concurrent: int
    skills: list[str]
    languages: list[str]


class ProfileIn(RequestBody):
    max_concurrent: int = Field(5, ge=1, le=100)
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)


class TeamIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    routing: str = "least_busy"
    sla_minutes: int = Field(10, ge=1)


class TeamOut(TeamIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request: RequestBody forbids extras
    id: int


class MemberIn(RequestBody):
    user_id: int


class CannedIn(RequestBody):
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=1600)
    language: str = Field("en", max_length=8)
    shortcut: str = Field("", max_length=32)


class CannedOut(CannedIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request: RequestBody forbids extras
    id: int


def _profile_out(profile: AgentProfile) -> ProfileOut:
    return ProfileOut(
        user_id=profile.user_id,
        status=profile.status,
        max_concurrent=profile.max_concurrent,
        skills=profile.skills or [],
        languages=profile.languages or [],
    )


@router.get("/queue", response_model=list[QueueItem])
def queue(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.AGENT))
) -> list[QueueItem]:
    return [
        QueueItem(
            escalation_id=e.id,
            conversation_id=c.id,
            priority=e.priority,
            reason=e.reason_code,
            language=e.language,
            waiting_since=e.created_at,
            sla_due_at=e.sla_due_at,
            sla_breached=e.sla_breached,
            team_id=e.team_id,
        )
        for e, c in service.queue(session)
    ]


@router.post("/status", response_model=ProfileOut)
def set_status(body: StatusIn, by: Acting = AGENT) -> ProfileOut:
    principal = by.principal
    user_id = body.user_id if body.user_id is not None else (principal.id if principal.kind == "user" else None)
    if user_id is None:
        raise ValidationFailed("an API key must name the agent: give user_id", errors=[{"field": "user_id"}])
    # an API key's id is not a user's: an agent key numbered like a user was taken for that user
    if principal.role is not Role.ADMIN and (principal.kind != "user" or user_id != principal.id):
        raise ValidationFailed("only an admin may set another agent's status", errors=[{"field": "user_id"}])
    profile = flows.set_agent_status(by.session, user_id=user_id, status=body.status, actor=by.actor)
    return _profile_out(profile)


@router.put("/agents/{user_id}", response_model=ProfileOut)
def update_profile(user_id: int, body: ProfileIn, by: Acting = ADMIN) -> ProfileOut:
    from core.models import User

    session = by.session
    if session.get(User, user_id) is None:
        raise ValidationFailed(f"user {user_id} does not exist", errors=[{"field": "user_id"}])
    profile = session.get(AgentProfile, user_id) or AgentProfile(user_id=user_id)
    session.add(profile)
    profile.max_concurrent, profile.skills, profile.languages = body.max_concurrent, body.skills, body.languages
    session.flush()
    by.audit("agent.profile", "user", user_id, body.model_dump())
    return _profile_out(profile)


@router.get("/agents", response_model=list[ProfileOut])
def list_agents(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.AGENT))
) -> list[ProfileOut]:
    """Every active agent and admin, one who never set a status as offline (``handoff.service.agents``)."""
    return [_profile_out(p) for p, _ in service.agents(session)]


@router.get("/teams", response_model=list[TeamOut])
def list_teams(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.AGENT))
) -> list[TeamOut]:
    return [TeamOut.model_validate(t, from_attributes=True) for t in session.scalars(select(Team).order_by(Team.name))]


@router.post("/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, by: Acting = ADMIN) -> TeamOut:
    team = service.create_team(by.session, **body.model_dump())
    by.audit("team.create", "team", team.id, body.model_dump())
    return TeamOut.model_validate(team, from_attributes=True)


@router.post("/teams/{team_id}/members", status_code=201)
def add_member(team_id: int, body: MemberIn, by: Acting = ADMIN) -> dict[str, int]:
    member = service.add_member(by.session, team_id=team_id, user_id=body.user_id)
    by.audit("team.member.add", "team", team_id, {"user_id": body.user_id})
    return {"team_id": member.team_id, "user_id": member.user_id}


@router.get("/canned", response_model=list[CannedOut])
def list_canned(
    language: str | None = None,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.AGENT)),
) -> list[CannedOut]:
    return [CannedOut.model_validate(c, from_attributes=True) for c in service.canned_for(session, language)]


@router.post("/canned", response_model=CannedOut, status_code=201)
def create_canned(body: CannedIn, by: Acting = AGENT) -> CannedOut:  # agents keep their own replies (README: roles)
    canned = service.create_canned(by.session, **body.model_dump())
    by.audit("canned.create", "canned_response", canned.id, {"title": canned.title, "language": canned.language})
    return CannedOut.model_validate(canned, from_attributes=True)


@router.put("/canned/{canned_id}", response_model=CannedOut)
def update_canned(canned_id: int, body: CannedIn, by: Acting = AGENT) -> CannedOut:
    """Replace a canned response (the console's edit form does the same); audited when something changed."""
    canned, diff = service.update_canned(by.session, canned_id, **body.model_dump())
    if diff:
        by.audit("canned.update", "canned_response", canned.id, diff)
    return CannedOut.model_validate(canned, from_attributes=True)


@router.delete("/canned/{canned_id}", status_code=204)
def delete_canned(canned_id: int, by: Acting = AGENT) -> None:
    canned = service.delete_canned(by.session, canned_id)
    by.audit("canned.delete", "canned_response", canned_id, {"title": canned.title})


@router.get("/metrics")
def supervisor_metrics(
    hours: int = Query(24, ge=1, le=24 * 90),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.AGENT, Role.ANALYST)),
) -> dict[str, Any]:
    return asdict(metrics.supervisor_figures(session, window=timedelta(hours=hours)))
