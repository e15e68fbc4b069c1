"""Full console pages: log-in and 2FA enrolment (public), each role's home, inbox, conversation, supervisor."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.console.roles import home
from api.deps import db_session, optional_principal, require
from core.accounts import Principal
from core.models import User
from core.rbac import Role
from core.settings import Settings

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
PUBLIC_PATHS = frozenset({"/console/login", "/console/enrol", "/console/offline"})
AGENTS = require(Role.AGENT)
SUPERVISORS = require(Role.AGENT, Role.ANALYST)


def _safe_next(target: str) -> str:
    """Only same-site console paths, so the log-in page cannot be used as an open redirect."""
    return target if target.startswith("/console") and not target.startswith("//") else "/console"


@router.get("/login", response_class=HTMLResponse, response_model=None)
def login_page(
    request: Request, next: str = "/console", principal: Principal | None = Depends(optional_principal)
) -> Response:
    if principal is not None and principal.kind == "user":
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "console/login.html", {"next": _safe_next(next)})


@router.get("/enrol", response_class=HTMLResponse, response_model=None)
def enrol_page(
    request: Request, next: str = "/console", principal: Principal | None = Depends(optional_principal)
) -> Response:
    """Two-factor enrolment for a pending (password-only) session.

    The page asks ``/api/v1/auth/2fa/enrol`` for a new secret as soon as it loads, without a
    password or code: that works for a user with no factor yet (first log-in, or after an admin
    reset); a fully logged-in user is sent on (replacing a factor needs the password and a code).
    """
    if principal is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "console/enrol.html", {"next": _safe_next(next)})


@router.get("/password", response_class=HTMLResponse)
def password_page(
    request: Request,
    next: str = "/console",
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(*Role)),
) -> HTMLResponse:
    """Choose your own password: required after an administrator set a temporary one (every other
    page sends you here until then), open to anyone signed in otherwise."""
    user = session.get(User, principal.id) if principal.kind == "user" else None
    temporary = bool(user and user.password_must_change)
    return render(
        request, "console/password.html", {"next": _safe_next(next), "temporary": temporary}, principal=principal
    )


@router.get("/offline", response_class=HTMLResponse)
def offline_page(request: Request) -> HTMLResponse:
    """The shell the service worker shows when the network is gone."""
    return render(request, "console/offline.html")


@router.get("", response_class=RedirectResponse, response_model=None)
def home_page(principal: Principal = Depends(require(*Role))) -> Response:
    """``/console`` sends each signed-in person to their role's home (agent: inbox, marketer:
    campaigns, analyst: QA reports, admin: overview); anonymous browsers go to log-in."""
    return RedirectResponse(home(principal.role), status_code=303)


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    view: views.View | None = None,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    return render(
        request,
        "console/inbox.html",
        {
            "inbox": views.inbox(session, principal, view),
            "page": None,
            "selected": None,
            "status": views.agent_status(session, principal),
            "views": views.VIEWS,
            "labels": views.VIEW_LABELS,
        },
        principal=principal,
    )


@router.get("/inbox/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = Query("", max_length=200),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    """Past conversations too: the inbox views list open ones only."""
    settings: Settings = request.app.state.settings
    return render(
        request,
        "console/search.html",
        {"result": views.search(session, q, region=settings.default_region),
         "status": views.agent_status(session, principal)},
        principal=principal,
    )


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request,
    conversation_id: int,
    view: views.View | None = Query(None),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    page = views.conversation(session, principal, conversation_id)
    return render(
        request,
        "console/inbox.html",
        {
            "inbox": views.inbox(session, principal, view),
            "page": page,
            "selected": conversation_id,
            "status": views.agent_status(session, principal),
            "views": views.VIEWS,
            "labels": views.VIEW_LABELS,
        },
        principal=principal,
    )


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(
    request: Request,
    hours: int = Query(24, ge=1, le=24 * 90),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(SUPERVISORS),
) -> HTMLResponse:
    return render(
        request,
        "console/supervisor.html",
        {"figures": views.supervisor(session, hours), "hours": hours, "status": views.agent_status(session, principal)},
        principal=principal,
    )
