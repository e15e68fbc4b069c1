"""The console's API keys page (admins): every key with its role, creator, creation, last use and
state; create one (its secret shown once, with a copy button) and revoke one after a confirmation.

The form and the buttons are HTMX posts (CSRF token in ``X-CSRF-Token``) calling ``core.api_keys``,
the functions behind ``/api/v1/apikeys`` and ``relais apikey create``, which check the input and
record the audit rows (``apikey.create`` / ``apikey.revoke``). The answer is the re-drawn list; the
secret is in that one answer only (``Cache-Control: no-store``): Relais keeps its hash.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from core import api_keys
from core.accounts import Principal
from core.models import ApiKey
from core.rbac import Role
from core.security import tokens

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
ADMIN = acting(Role.ADMIN)
#: What a key of each role may do, for the form (README "Roles"), the narrowest first.
ROLES: list[tuple[Role, str]] = [
    (Role.ANALYST, "reports and metrics, read only (e.g. Prometheus, a BI tool)"),
    (Role.MARKETER, "contacts, segments, templates, campaigns, transactional events (e.g. a shop or CRM)"),
    (Role.AGENT, "conversations, the handoff queue and replies (e.g. a helpdesk)"),
    (Role.ADMIN, "everything, users and keys included"),
]


def _list(
    request: Request,
    session: Session,
    principal: Principal,
    template: str,
    *,
    done: str = "",
    created: tuple[ApiKey, str] | None = None,
) -> HTMLResponse:
    context = {
        "keys": api_keys.listing(session),
        "roles": ROLES,
        "key_prefix": tokens.API_KEY_PREFIX,
        "done": done,
        "created": created,
    }
    headers = {"Cache-Control": "no-store"} if created else None
    return render(request, template, context, principal=principal, headers=headers)


@router.get("/apikeys", response_class=HTMLResponse)
def keys_page(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> HTMLResponse:
    return _list(request, session, principal, "console/apikeys.html")


@router.post("/apikeys", response_class=HTMLResponse)
def create_key(
    name: str = Form("", max_length=1000),
    role: str = Form("", max_length=20),
    by: Acting = ADMIN,
) -> HTMLResponse:
    """Issue a key for the signed-in admin; the answer shows its secret once."""
    key, secret = api_keys.issue(by.session, name=name, role=role, actor=by.actor, created_by=by.principal.id)
    return _list(by.request, by.session, by.principal, "console/_apikeys.html", created=(key, secret))


@router.post("/apikeys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(key_id: int, by: Acting = ADMIN) -> HTMLResponse:
    key = api_keys.revoke(by.session, key_id=key_id, actor=by.actor)
    done = f"The key “{key.name}” is revoked: requests with it are refused from now on."
    return _list(by.request, by.session, by.principal, "console/_apikeys.html", done=done)
