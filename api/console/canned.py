"""Canned responses managed in the console (agents): list, create, edit, delete, each audited.

The forms post with HTMX (CSRF token in the ``X-CSRF-Token`` header from the page body) and get the
re-rendered list back; the conversation view's "Canned response" menu offers the same rows.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import actor, db_session, require
from core import audit
from core.accounts import Principal
from core.rbac import Role
from handoff import service

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
AGENTS = require(Role.AGENT)
LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
TITLE = Form(min_length=1, max_length=120)
BODY = Form(min_length=1, max_length=1600)
LANGUAGE = Form("en", pattern="^(en|fr|es|de|it|pt)$")
SHORTCUT = Form("", max_length=32)


def _context(session: Session, done: str) -> dict[str, object]:
    return {"canned": service.canned_for(session, None), "languages": LANGUAGES, "done": done}


def _list(request: Request, session: Session, principal: Principal, done: str) -> HTMLResponse:
    return render(request, "console/_canned.html", _context(session, done), principal=principal)


@router.get("/canned", response_class=HTMLResponse)
def canned_page(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(AGENTS)
) -> HTMLResponse:
    return render(request, "console/canned.html", _context(session, ""), principal=principal)


@router.post("/canned", response_class=HTMLResponse)
def create(
    request: Request,
    title: str = TITLE,
    body: str = BODY,
    language: str = LANGUAGE,
    shortcut: str = SHORTCUT,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    canned = service.create_canned(session, title=title, body=body, language=language, shortcut=shortcut)
    audit.record(session, actor=actor(request, principal), action="canned.create", target_type="canned_response",
                 target_id=canned.id, diff={"title": canned.title, "language": canned.language})
    return _list(request, session, principal, f"“{canned.title}” is saved.")


@router.post("/canned/{canned_id}", response_class=HTMLResponse)
def update(
    request: Request,
    canned_id: int,
    title: str = TITLE,
    body: str = BODY,
    language: str = LANGUAGE,
    shortcut: str = SHORTCUT,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    canned, diff = service.update_canned(session, canned_id, title=title, body=body, language=language,
                                         shortcut=shortcut)
    if diff:
        audit.record(session, actor=actor(request, principal), action="canned.update",
                     target_type="canned_response", target_id=canned.id, diff=diff)
    return _list(request, session, principal, f"“{canned.title}” is updated." if diff else "Nothing changed.")


@router.post("/canned/{canned_id}/delete", response_class=HTMLResponse)
def delete(
    request: Request,
    canned_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> HTMLResponse:
    canned = service.delete_canned(session, canned_id)
    audit.record(session, actor=actor(request, principal), action="canned.delete", target_type="canned_response",
                 target_id=canned_id, diff={"title": canned.title})
    return _list(request, session, principal, f"“{canned.title}” is deleted.")
