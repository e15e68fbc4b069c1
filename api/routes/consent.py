"""The global suppression list and the one-click opt-out link.

Roles: marketers read and add suppressions, only admins remove one; the opt-out link carries
its own signed token and is public.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from contacts import consent, links
from contacts.models import Contact, Suppression
from contacts.schemas import (
    SuppressionIn,
    SuppressionOut,
)
from core.accounts import Principal
from core.rbac import Role
from core.runtime import secret_key

router = APIRouter(prefix="/api/v1", tags=["contacts"])
PUBLIC_PATHS = frozenset({"/api/v1/opt-out/{token}"})
WRITERS = require(Role.MARKETER)
ADMINS = require(Role.ADMIN)


# -- suppressions -------------------------------------------------------------------------------


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(
    limit: int = Query(100, ge=1, le=1000),
    after_id: int = 0,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(WRITERS),
) -> list[SuppressionOut]:
    """Entries are blind indexes: the list shows reasons and dates, never numbers."""
    rows = session.scalars(select(Suppression).where(Suppression.id > after_id).order_by(Suppression.id).limit(limit))
    return [SuppressionOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(
    body: SuppressionIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> SuppressionOut:
    from channels.phone import normalize_e164

    e164 = normalize_e164(body.phone, region=request.app.state.settings.default_region)
    entry = consent.suppress_number(
        session, phone_e164=e164, reason=body.reason, note=body.note, actor=actor(request, principal)
    )
    return SuppressionOut.model_validate(entry, from_attributes=True)


@router.delete("/suppressions/{phone}", status_code=204)
def remove_suppression(
    phone: str,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> None:
    from channels.phone import normalize_e164

    e164 = normalize_e164(phone, region=request.app.state.settings.default_region)
    consent.unsuppress_number(session, phone_e164=e164, actor=actor(request, principal))


# -- one-click opt-out link (public) ------------------------------------------------------------

_OPT_OUT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:30em;margin:3em auto">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


@router.get("/opt-out/{token}", response_class=HTMLResponse)
@router.post("/opt-out/{token}", response_class=HTMLResponse)
def opt_out_link(
    token: str, request: Request, session: Session = Depends(db_session, scope="function")
) -> HTMLResponse:
    """GET shows a confirmation button (link previewers must not unsubscribe people); POST opts out."""
    contact_id = links.contact_id_from_token(secret_key(request.app.state.settings), token)
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None:
        page = _OPT_OUT_PAGE.format(title="Link not valid", text="This unsubscribe link is not valid.", form="")
        return HTMLResponse(page, status_code=404)
    if request.method == "GET" and not contact.opted_out:
        form = '<form method="post"><button type="submit">Stop all messages</button></form>'
        page = _OPT_OUT_PAGE.format(title="Unsubscribe", text="Stop receiving text messages from us?", form=form)
        return HTMLResponse(page)
    if not contact.opted_out:
        consent.record_opt_out(session, contact=contact, source="link", proof="one-click unsubscribe link")
    page = _OPT_OUT_PAGE.format(title="Unsubscribed", text="You will not receive marketing messages any more.", form="")
    return HTMLResponse(page)
