"""Send a message (now or at ``send_at``), cancel one that waits, read it, list messages, preview encoding and
segments."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from channels.encoding import analyze, smart_encode
from conversations import flows, service
from conversations.schemas import MessageIn, MessageOut, PreviewIn, PreviewOut
from conversations.visibility import Viewer, visible_to
from core import audit
from core.accounts import Principal
from core.errors import Forbidden, ValidationFailed
from core.rbac import Role
from delivery.cancel import cancel

router = APIRouter(prefix="/api/v1", tags=["messages"])
MIN_OVERRIDE_REASON = 10


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
    sends nothing again. A number that may not be texted on the lane (opted out, suppressed,
    erased; marketing without consent) is refused with 422 (field ``to``, ``reason``). Only an
    administrator may set ``override_opt_out`` (transactional lane, with an ``override_reason``),
    and the override is audited.
    """
    if body.override_opt_out:
        _check_override(body, principal)
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
        override_opt_out=body.override_opt_out,
        expires_at=body.expires_at,
        send_at=body.send_at,
    )
    if not created:
        response.status_code = 200
        return MessageOut.of(message)
    diff = {"lane": message.lane, "segments": message.segments, "to": body.to}
    if message.not_before is not None:
        diff["send_at"] = message.not_before.isoformat()
    if body.override_opt_out:
        diff |= {"override_opt_out": True, "override_reason": body.override_reason.strip()}
    audit.record(
        session,
        actor=actor(request, principal),
        action="message.override_opt_out" if body.override_opt_out else "message.send",
        target_type="message",
        target_id=message.id,
        diff=diff,
    )
    return MessageOut.of(message)


def _check_override(body: MessageIn, principal: Principal) -> None:
    if principal.role != Role.ADMIN:
        raise Forbidden("override_opt_out needs the admin role")
    if body.lane != "transactional":
        raise ValidationFailed("override_opt_out is for the transactional lane only",
                               errors=[{"field": "override_opt_out", "reason": "transactional_only"}])
    if len(body.override_reason.strip()) < MIN_OVERRIDE_REASON:
        raise ValidationFailed(f"override_reason must say why, in {MIN_OVERRIDE_REASON} characters at least",
                               errors=[{"field": "override_reason", "reason": "missing"}])


@router.post("/messages/{message_id}/cancel", response_model=MessageOut)
def cancel_message(
    message_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> MessageOut:
    """Cancel a text that waits to go (scheduled, held for its send window, waiting for a retry): it becomes
    ``rejected`` with ``error_code`` ``cancelled``. 409 when a worker already holds it or it has gone."""
    message = cancel(session, message_id, scope=_scope(principal))
    audit.record(session, actor=actor(request, principal), action="message.cancel", target_type="message",
                 target_id=message.id, diff={"status": message.status})  # fmt: skip
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
    principal: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> MessageOut:
    """One message, if the caller's role may read it (404 otherwise: see ``conversations.visibility``)."""
    return MessageOut.of(service.get_message(session, message_id, scope=_scope(principal)))


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
    principal: Principal = Depends(require(Role.MARKETER, Role.AGENT)),
) -> list[MessageOut]:
    """Newest first; page with ``before_id``. Only the lanes the caller's role owns: marketers see
    marketing and their own sends, agents conversations and their own sends, admins everything."""
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
        scope=_scope(principal),
    )
    return [MessageOut.of(m) for m in rows]


def _scope(principal: Principal) -> ColumnElement[bool]:
    return visible_to(Viewer(role=principal.role, kind=principal.kind, id=principal.id))
