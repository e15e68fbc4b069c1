"""Console actions (HTML forms posted by HTMX): reply, note, assign, transfer, hand back, close, status.

Each calls the same ``handoff.flows`` function as the REST API and answers with the re-rendered
conversation panel. Unsafe requests carry the session's CSRF token (``X-CSRF-Token``, sent by
``hx-headers`` on the page body).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.deps import actor, db_session, require
from conversations.lock import changing
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from handoff import flows

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
AGENTS = require(Role.AGENT)


def _me(principal: Principal) -> int:
    if principal.kind != "user":
        raise ValidationFailed("the console acts as a person: log in to the console (API keys use /api/v1)")
    return principal.id


def _panel(request: Request, session: Session, principal: Principal, conversation_id: int) -> HTMLResponse:
    page = views.conversation(session, principal, conversation_id)
    # The inbox list refreshes itself on this client-side event (counts and states changed).
    return render(
        request,
        "console/_conversation.html",
        {"page": page},
        principal=principal,
        headers={"HX-Trigger": "inbox-changed"},
    )


@router.post("/conversations/{conversation_id}/reply", response_class=HTMLResponse)
def reply(
    request: Request,
    conversation_id: int,
    body: str = Form("", max_length=1600),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    with changing(session, conversation_id):
        flows.agent_reply(
            session, conversation_id=conversation_id, user_id=_me(principal), body=body, actor=actor(request, principal)
        )
    return _panel(request, session, principal, conversation_id)


@router.post("/conversations/{conversation_id}/notes", response_class=HTMLResponse)
def add_note(
    request: Request,
    conversation_id: int,
    body: str = Form("", max_length=4000),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    if not body.strip():
        raise ValidationFailed("the note is empty", errors=[{"field": "body", "message": "write something"}])
    flows.add_note(
        session, conversation_id=conversation_id, user_id=_me(principal), body=body, actor=actor(request, principal)
    )
    return _panel(request, session, principal, conversation_id)


@router.post("/conversations/{conversation_id}/assign", response_class=HTMLResponse)
def assign_to_me(
    request: Request,
    conversation_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    with changing(session, conversation_id):
        flows.assign(session, conversation_id=conversation_id, user_id=_me(principal), actor=actor(request, principal))
    return _panel(request, session, principal, conversation_id)


@router.post("/conversations/{conversation_id}/transfer", response_class=HTMLResponse)
def transfer(
    request: Request,
    conversation_id: int,
    target: str = Form("", max_length=100),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    """``target`` is ``user:<id>`` or ``team:<id>`` (one select lists both)."""
    kind, _, raw = target.partition(":")
    if kind not in ("user", "team") or not raw.isdigit():
        raise ValidationFailed("choose an agent or a team", errors=[{"field": "target", "message": "required"}])
    with changing(session, conversation_id):
        flows.transfer(
            session,
            conversation_id=conversation_id,
            actor=actor(request, principal),
            to_user_id=int(raw) if kind == "user" else None,
            to_team_id=int(raw) if kind == "team" else None,
        )
    return _panel(request, session, principal, conversation_id)


@router.post("/conversations/{conversation_id}/handback", response_class=HTMLResponse)
def handback(
    request: Request,
    conversation_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    with changing(session, conversation_id):
        flows.handback(session, conversation_id=conversation_id, actor=actor(request, principal))
    return _panel(request, session, principal, conversation_id)


@router.post("/conversations/{conversation_id}/close", response_class=HTMLResponse)
def close(
    request: Request,
    conversation_id: int,
    disposition: str = Form("resolved", max_length=100),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    with changing(session, conversation_id):
        flows.close(session, conversation_id=conversation_id, disposition=disposition, actor=actor(request, principal))
    return _panel(request, session, principal, conversation_id)


@router.post("/status", response_class=HTMLResponse)
def set_status(
    request: Request,
    status: str = Form("", max_length=100),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    profile = flows.set_agent_status(session, user_id=_me(principal), status=status, actor=actor(request, principal))
    return render(request, "console/_status.html", {"status": profile.status}, principal=principal)
