"""Canned responses managed in the console (agents): list, create, edit, delete, each audited.

The forms post with HTMX (CSRF token in the ``X-CSRF-Token`` header from the page body) and get the
re-rendered list back; the conversation view's "Canned response" menu offers the same rows. Each
change goes through the REST route function of ``api.routes.handoff``, so its checks and audit
entries (``canned.create`` / ``update`` / ``delete``) are the API's own.
"""

from __future__ import annotations

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting
from api.routes import handoff as rest
from api.routes.handoff import CannedIn, CannedOut
from campaigns.brand import first_language
from core.rbac import Role
from handoff import service

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
AGENT = acting(Role.AGENT)
LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
TITLE = Form(min_length=1, max_length=120)
BODY = Form(min_length=1, max_length=1600)
LANGUAGE = Form("en", pattern="^(en|fr|es|de|it|pt)$")
SHORTCUT = Form("", max_length=32)


def _context(session: Session, done: str) -> dict[str, object]:
    return {"canned": service.canned_for(session, None), "languages": LANGUAGES, "done": done,
            "default_language": first_language(session, LANGUAGES)}  # fmt: skip


def _list(by: Acting, done: str) -> HTMLResponse:
    return render(by.request, "console/_canned.html", _context(by.session, done), principal=by.principal)


@router.get("/canned", response_class=HTMLResponse)
def canned_page(by: Acting = AGENT) -> HTMLResponse:
    return render(by.request, "console/canned.html", _context(by.session, ""), principal=by.principal)


@router.post("/canned", response_class=HTMLResponse)
def create(title: str = TITLE, body: str = BODY, language: str = LANGUAGE, shortcut: str = SHORTCUT,
           by: Acting = AGENT) -> HTMLResponse:
    canned = rest.create_canned(CannedIn(title=title, body=body, language=language, shortcut=shortcut), by)
    return _list(by, f"“{canned.title}” is saved.")


@router.post("/canned/{canned_id}", response_class=HTMLResponse)
def update(canned_id: int, title: str = TITLE, body: str = BODY, language: str = LANGUAGE, shortcut: str = SHORTCUT,
           by: Acting = AGENT) -> HTMLResponse:
    wanted = CannedIn(title=title, body=body, language=language, shortcut=shortcut)
    before = CannedOut.model_validate(service.get_canned(by.session, canned_id), from_attributes=True)
    canned = rest.update_canned(canned_id, wanted, by)
    return _list(by, f"“{canned.title}” is updated." if canned != before else "Nothing changed.")


@router.post("/canned/{canned_id}/delete", response_class=HTMLResponse)
def delete(canned_id: int, by: Acting = AGENT) -> HTMLResponse:
    title = service.get_canned(by.session, canned_id).title
    rest.delete_canned(canned_id, by)
    return _list(by, f"“{title}” is deleted.")
