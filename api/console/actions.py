"""Console actions (HTML forms posted by HTMX): reply, note, assign, transfer, hand back, close, status.

Each calls the same ``handoff.flows`` function as the REST API and answers with the re-rendered
conversation panel. Unsafe requests carry the session's CSRF token (``X-CSRF-Token``, sent by
``hx-headers`` on the page body).
"""

from __future__ import annotations

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse

from api.console import ConsoleRoute, render, views
from api.deps import Acting, acting
from conversations.lock import changing
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from handoff import flows

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
AGENT = acting(Role.AGENT)


def _me(principal: Principal) -> int:
    if principal.kind != "user":
        raise ValidationFailed("the console acts as a person: log in to the console (API keys use /api/v1)")
    return principal.id


def _panel(by: Acting, conversation_id: int) -> HTMLResponse:
    page = views.conversation(by.session, by.principal, conversation_id)
    # The inbox list refreshes itself on this client-side event (counts and states changed).
    return render(by.request, "console/_conversation.html", {"page": page}, principal=by.principal,
                  headers={"HX-Trigger": "inbox-changed"})


@router.post("/conversations/{conversation_id}/reply", response_class=HTMLResponse)
def reply(conversation_id: int, body: str = Form("", max_length=1600), by: Acting = AGENT) -> HTMLResponse:
    with changing(by.session, conversation_id):
        flows.agent_reply(by.session, conversation_id=conversation_id, user_id=_me(by.principal), body=body,
                          actor=by.actor)
    return _panel(by, conversation_id)


@router.post("/conversations/{conversation_id}/notes", response_class=HTMLResponse)
def add_note(conversation_id: int, body: str = Form("", max_length=4000), by: Acting = AGENT) -> HTMLResponse:
    if not body.strip():
        raise ValidationFailed("the note is empty", errors=[{"field": "body", "message": "write something"}])
    flows.add_note(by.session, conversation_id=conversation_id, user_id=_me(by.principal), body=body, actor=by.actor)
    return _panel(by, conversation_id)


@router.post("/conversations/{conversation_id}/assign", response_class=HTMLResponse)
def assign_to_me(conversation_id: int, owner: str = Form("", max_length=20), by: Acting = AGENT) -> HTMLResponse:
    """``owner`` is who the page showed with the conversation (empty: nobody): taking it from anyone else is
    refused, since the person agreed to take it from nobody, or from that colleague only."""
    if owner and not owner.isdigit():
        raise ValidationFailed("owner must be a user id", errors=[{"field": "owner", "message": "a user id"}])
    with changing(by.session, conversation_id):
        flows.assign(by.session, conversation_id=conversation_id, user_id=_me(by.principal), actor=by.actor,
                     taking_from=int(owner) if owner else None)
    return _panel(by, conversation_id)


@router.post("/conversations/{conversation_id}/transfer", response_class=HTMLResponse)
def transfer(conversation_id: int, target: str = Form("", max_length=100), by: Acting = AGENT) -> HTMLResponse:
    """``target`` is ``user:<id>`` or ``team:<id>`` (one select lists both)."""
    kind, _, raw = target.partition(":")
    if kind not in ("user", "team") or not raw.isdigit():
        raise ValidationFailed("choose an agent or a team", errors=[{"field": "target", "message": "required"}])
    with changing(by.session, conversation_id):
        flows.transfer(by.session, conversation_id=conversation_id, actor=by.actor,
                       to_user_id=int(raw) if kind == "user" else None,
                       to_team_id=int(raw) if kind == "team" else None)
    return _panel(by, conversation_id)


@router.post("/conversations/{conversation_id}/handback", response_class=HTMLResponse)
def handback(conversation_id: int, by: Acting = AGENT) -> HTMLResponse:
    with changing(by.session, conversation_id):
        flows.handback(by.session, conversation_id=conversation_id, actor=by.actor)
    return _panel(by, conversation_id)


@router.post("/conversations/{conversation_id}/close", response_class=HTMLResponse)
def close(conversation_id: int, disposition: str = Form("resolved", max_length=100),
          by: Acting = AGENT) -> HTMLResponse:
    with changing(by.session, conversation_id):
        flows.close(by.session, conversation_id=conversation_id, disposition=disposition, actor=by.actor)
    return _panel(by, conversation_id)


@router.post("/status", response_class=HTMLResponse)
def set_status(status: str = Form("", max_length=100), by: Acting = AGENT) -> HTMLResponse:
    profile = flows.set_agent_status(by.session, user_id=_me(by.principal), status=status, actor=by.actor)
    # Going Online routes waiting conversations to this agent: the inbox redraws at once to show them.
    return render(by.request, "console/_status.html", {"status": profile.status}, principal=by.principal,
                  headers={"HX-Trigger": "inbox-changed"})
