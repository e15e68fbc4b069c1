"""Transactional events (marketer/admin API keys) and the event → template mapping."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from campaigns import transactional
from campaigns.models import EventTemplate
from campaigns.schemas import EventIn, EventOut, EventTemplateIn
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.post("/events", response_model=EventOut, status_code=202)
def post_event(
    body: EventIn,
    request: Request,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> EventOut:
    """Trigger the templated message of ``type`` for the contact (audited ``event.trigger``); a repeated
    idempotency key answers 200 and changes nothing."""
    contact = transactional.resolve_contact(session, contact_id=body.contact_id, contact=body.contact)
    result = transactional.handle_event(
        session,
        event_type=body.type,
        contact=contact,
        data=body.data,
        idempotency_key=body.idempotency_key,
        source="api",
        expires_at=body.expires_at,
    )
    event = result.event
    if result.duplicate:
        response.status_code = 200
    else:
        audit.record(
            session,
            actor=actor(request, principal),
            action="event.trigger",
            target_type="event",
            target_id=event.id,
            diff={
                "type": body.type,
                "status": event.status,
                "contact_id": event.contact_id,
                "message_id": event.message_id,
            },
        )
    return EventOut(id=event.id, status=event.status, message_id=event.message_id, duplicate=result.duplicate)


@router.get("/events/templates", response_model=list[EventTemplateIn])
def list_mappings(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.MARKETER))
) -> list[EventTemplateIn]:
    rows = session.scalars(select(EventTemplate).order_by(EventTemplate.event_type, EventTemplate.language))
    return [EventTemplateIn(event_type=r.event_type, language=r.language, template_id=r.template_id) for r in rows]


@router.put("/events/templates", response_model=EventTemplateIn)
def set_mapping(
    body: EventTemplateIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> EventTemplateIn:
    """Map an event type (and language, ``*`` = any) to a transactional template."""
    row = transactional.set_mapping(
        session, event_type=body.event_type, language=body.language, template_id=body.template_id
    )
    audit.record(
        session,
        actor=actor(request, principal),
        action="event_template.set",
        target_type="event_template",
        target_id=row.id,
        diff=body.model_dump(),
    )
    return body
