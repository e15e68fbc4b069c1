"""Send a message, read it, list messages, preview encoding and segments."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from channels.encoding import analyze, smart_encode
from conversations import flows, service
from conversations.schemas import MessageIn, MessageOut, PreviewIn, PreviewOut
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.post("/messages", response_model=MessageOut, status_code=202)
def send_message(
    body: MessageIn,
    request: Request,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=150),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> MessageOut:
    """Queue a message: 202 with its id, status, encoding and segments.

    The same ``Idempotency-Key`` (per API key or user) returns the first message with 200 and
    sends nothing again.
    """
    key = f"{principal.kind}:{principal.id}:{idempotency_key}" if idempotency_key else None
    message, created = flows.send_api_message(
        session,
        to=body.to,
        body=body.body,
        lane=body.lane,
        author_type="api" if principal.kind == "api_key" else "agent",
        author_id=str(principal.id),
        region=request.app.state.settings.default_region,
        media=[m.model_dump() for m in body.media],
        sender=body.sender,
        idempotency_key=key,
        smart_encoding=body.smart_encoding,
    )
    if not created:
        response.status_code = 200
        return MessageOut.of(message)
    audit.record(
        session,
        actor=actor(request, principal),
        action="message.send",
        target_type="message",
        target_id=message.id,
        diff={"lane": message.lane, "segments": message.segments, "to": body.to},
    )
    return MessageOut.of(message)


@router.post("/messages/preview", response_model=PreviewOut)
def preview(body: PreviewIn, _: Principal = Depends(require(Role.MARKETER, Role.AGENT))) -> PreviewOut:
    """Encoding and segments of a text as it would be sent (with smart encoding if asked)."""
    smart = smart_encode(body.body)
    text = smart if body.smart_encoding else body.body
    info = analyze(text)
    return PreviewOut(
        body=text,
        encoding=info.encoding,
        segments=info.segments,
        characters=info.characters,
        units=info.units,
        per_segment=info.per_segment,
        remaining_in_segment=info.remaining_in_segment,
        smart_encoding_saves_segments=analyze(body.body).segments - analyze(smart).segments,
    )


@router.get("/messages/{message_id}", response_model=MessageOut)
def get_message(
    message_id: int,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> MessageOut:
    return MessageOut.of(service.get_message(session, message_id))


@router.get("/messages", response_model=list[MessageOut])
def list_messages(
    status: str | None = None,
    direction: str | None = None,
    lane: str | None = None,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    campaign_id: int | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> list[MessageOut]:
    """Newest first; page with ``before_id``."""
    rows = service.list_messages(
        session,
        status=status,
        direction=direction,
        lane=lane,
        contact_id=contact_id,
        conversation_id=conversation_id,
        campaign_id=campaign_id,
        since=since,
        before_id=before_id,
        limit=limit,
    )
    return [MessageOut.of(m) for m in rows]
