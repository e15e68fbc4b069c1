"""The admin's home: how the deployment is doing right now, with a link to each place to act."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.deps import db_session, require
from campaigns.models import Campaign
from conversations.models import Conversation
from core.accounts import Principal
from core.queue import failed_jobs
from core.rbac import Role
from handoff.models import Escalation

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
FAILED_JOBS_SHOWN = 100


@dataclass(frozen=True)
class Overview:
    open_conversations: int
    waiting: int
    sla_breaches: int
    campaigns_running: int
    campaigns_scheduled: int
    failed_jobs: int  # counted up to FAILED_JOBS_SHOWN per queue


def overview(session: Session) -> Overview:
    """The figures of the overview page (open escalations count as waiting until someone takes them)."""
    campaigns: dict[str, int] = {
        status: int(count)
        for status, count in session.execute(
            select(Campaign.status, func.count(Campaign.id))
            .where(Campaign.status.in_(("running", "preparing", "scheduled")))
            .group_by(Campaign.status)
        )
    }
    open_escalations = select(func.count(Escalation.id)).where(Escalation.status != "resolved")
    open_conversations = select(func.count(Conversation.id)).where(Conversation.state != "closed")
    return Overview(
        open_conversations=int(session.scalar(open_conversations) or 0),
        waiting=int(session.scalar(open_escalations.where(Escalation.assigned_user_id.is_(None))) or 0),
        sla_breaches=int(session.scalar(open_escalations.where(Escalation.sla_breached.is_(True))) or 0),
        campaigns_running=campaigns.get("running", 0) + campaigns.get("preparing", 0),
        campaigns_scheduled=campaigns.get("scheduled", 0),
        failed_jobs=len(failed_jobs(FAILED_JOBS_SHOWN)),
    )


@router.get("/overview", response_class=HTMLResponse)
def overview_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> HTMLResponse:
    return render(
        request,
        "console/overview.html",
        {"figures": overview(session), "status": views.agent_status(session, principal),
         "failed_jobs_cap": FAILED_JOBS_SHOWN},
        principal=principal,
    )
