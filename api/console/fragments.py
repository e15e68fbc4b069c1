"""HTMX fragments: the inbox list, the conversation panel, the segment counter, supervisor figures."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.deps import db_session, require
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/console/fragments", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
AGENTS = require(Role.AGENT)


@router.get("/inbox", response_class=HTMLResponse)
def inbox_fragment(
    request: Request,
    view: views.View | None = None,
    selected: int | None = None,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    return render(
        request,
        "console/_inbox.html",
        {
            "inbox": views.inbox(session, principal, view),
            "selected": selected,
            "refreshed": True,  # the page's other parts that follow the inbox are re-drawn out of band
            "views": views.VIEWS,
            "labels": views.VIEW_LABELS,
        },
        principal=principal,
    )


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_fragment(
    request: Request,
    conversation_id: int,
    part: str = Query("live", pattern="^(live|panel)$"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    """``live`` is the part that refreshes on events (thread + context, and the header's standing out of
    band); ``panel`` adds the forms."""
    template = "console/_live.html" if part == "live" else "console/_conversation.html"
    page = views.conversation(session, principal, conversation_id)
    return render(request, template, {"page": page, "live_part": part == "live"}, principal=principal)


@router.get("/counter", response_class=HTMLResponse)
def counter_fragment(
    request: Request, body: str = Query("", max_length=1600), _: Principal = Depends(AGENTS)
) -> HTMLResponse:
    return render(request, "console/_counter.html", {"counter": views.counter(body)})


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_fragment(
    request: Request,
    hours: int = Query(24, ge=1, le=24 * 90),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.AGENT, Role.ANALYST)),
) -> HTMLResponse:
    return render(
        request,
        "console/_supervisor.html",
        {"figures": views.supervisor(session, hours), "hours": hours},
        principal=principal,
    )
