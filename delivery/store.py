"""Database side of the delivery engine: claiming messages and recording what happened to them.

Claiming is one conditional UPDATE (``queued → sending`` with a fresh token), so two workers
handed the same ids never both send a message. Outcomes are written with conditional UPDATEs too,
never read-modify-write, so a delivery report applied meanwhile is never overwritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from channels.base import MediaItem, SendResult
from channels.senders import SenderChoice, SenderPicker, account_rates, ensure_default_sender
from contacts.consent import REFUSAL_TEXT, consent_verdicts
from contacts.models import Contact
from conversations import service
from conversations.models import Message, MessageProviderId
from core import webhooks
from core.db import utcnow
from core.models import WebhookSubscription
from delivery.states import status_event

_messages: Table = Message.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, detached from the session so sending threads can use it."""

    id: int
    to: str
    text: str
    media: tuple[MediaItem, ...]
    lane: str
    attempts: int
    sender: SenderChoice
    account_rate: float


def claim(session: Session, message_ids: Sequence[int]) -> tuple[str, list[Message]]:
    """Move due ``queued`` outbound messages among ``message_ids`` to ``sending``; returns (token, rows)."""
    token = uuid.uuid4().hex
    now = utcnow()
    session.execute(
        update(Message)
        .where(
            Message.id.in_(list(message_ids)),
            Message.status == "queued",
            Message.direction == "out",
            or_(Message.not_before.is_(None), Message.not_before <= now),
        )
        .values(status="sending", claim_token=token, claimed_at=now, attempts=Message.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    rows = list(session.scalars(select(Message).where(Message.claim_token == token).order_by(Message.id)))
    return token, rows


def prepare(session: Session, rows: list[Message], *, channel: str, default_account_rate: float) -> list[Outgoing]:
    """Check consent and choose senders for claimed rows; rows that may not go out are closed here."""
    if not rows:
        return []
    ensure_default_sender(session, channel=channel)
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_({r.contact_id for r in rows})))}
    # consent per (lane, override): a contact's marketing block must not stop its transactional text
    blocked: dict[tuple[str, bool], dict[int, str]] = {}
    for lane, override in {(r.lane, r.override_opt_out) for r in rows}:
        ids = [r.contact_id for r in rows if (r.lane, r.override_opt_out) == (lane, override)]
        blocked[(lane, override)] = consent_verdicts(session, ids, lane, override_opt_out=override)
    picker = SenderPicker(session)
    sticky = service.sticky_senders(session, [r.contact_id for r in rows if not r.sender])
    rates = account_rates(session)
    ready: list[Outgoing] = []
    for row in rows:
        contact = contacts.get(row.contact_id)
        refused = blocked[(row.lane, row.override_opt_out)].get(row.contact_id)
        if refused or contact is None or not contact.phone:
            code = refused or "erased"
            close(session, row, status="rejected", code=code, reason=REFUSAL_TEXT[code])
            continue
        media = tuple(MediaItem(**m) for m in row.media)
        choice = picker.by_address(row.sender) if row.sender else None
        if choice is None:
            choice = picker.pick(
                country=contact.country, contact_id=contact.id, mms=bool(media), sticky=sticky.get(row.contact_id)
            )
        if choice is None:
            need = "MMS" if media else "SMS"
            close(
                session,
                row,
                status="dead",
                code="no_sender",
                reason=f"no active {need} sender for {contact.country or 'this country'}",
            )
            continue
        row.sender = choice.address
        ready.append(
            Outgoing(
                id=row.id,
                to=contact.phone,
                text=row.body,
                media=media,
                lane=row.lane,
                attempts=row.attempts,
                sender=choice,
                account_rate=rates.get(choice.provider_account, default_account_rate),
            )
        )
    session.flush()
    return ready


def has_status_subscribers(session: Session) -> bool:
    """Whether any ``message.status`` webhook is wanted (skips per-message emits when none is)."""
    return bool(session.scalar(select(exists().where(WebhookSubscription.active.is_(True)))))


def close(session: Session, row: Message, *, status: str, code: str, reason: str) -> None:
    """Give a message a final status without a send (consent, no sender, permanent error, dead letter)."""
    row.status = status
    row.error_code = code[:40]
    row.error_reason = reason[:500]
    row.claim_token = ""
    session.flush()
    webhooks.emit(session, "message.status", status_event(row))


_RECORD_SENT = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"), _messages.c.claim_token == bindparam("b_token"))
    .values(
        status=case((_messages.c.status == "sending", "sent"), else_=_messages.c.status),
        provider=bindparam("b_provider"),
        provider_message_id=func.coalesce(_messages.c.provider_message_id, bindparam("b_pid")),
        segments=bindparam("b_segments"),
        price_micros=func.coalesce(bindparam("b_price"), _messages.c.price_micros),
        sent_at=func.coalesce(_messages.c.sent_at, bindparam("b_now")),
        claim_token="",
        error_code="",
        error_reason="",
    )
)


def record_sent(session: Session, sent: dict[int, SendResult], *, token_of: dict[int, str]) -> None:
    """Store provider acceptances (status ``sent`` unless a report already moved it further)."""
    if not sent:
        return
    now = utcnow()
    params = [
        {
            "b_id": message_id,
            "b_token": token_of[message_id],
            "b_provider": result.provider,
            "b_pid": result.provider_message_id,
            "b_segments": result.segments,
            "b_price": result.price_micros,
            "b_now": now,
        }
        for message_id, result in sent.items()
    ]
    session.connection().execute(_RECORD_SENT, params)
    parts = [
        MessageProviderId(message_id=message_id, provider=result.provider, provider_message_id=part)
        for message_id, result in sent.items()
        if len(result.part_ids) > 1
        for part in result.part_ids
    ]
    session.add_all(parts)
    session.flush()
    if has_status_subscribers(session):
        for row in session.scalars(select(Message).where(Message.id.in_(list(sent)))):
            session.refresh(row)
            webhooks.emit(session, "message.status", status_event(row))


def requeue(session: Session, message_ids: Sequence[int], *, at: datetime | None, undo_attempt: bool = False) -> None:
    """Put claimed messages back to ``queued`` (a retry later, or a limiter deferral)."""
    if not message_ids:
        return
    values: dict[str, object] = {"status": "queued", "claim_token": "", "not_before": at}
    if undo_attempt:
        values["attempts"] = Message.attempts - 1
    session.execute(
        update(Message)
        .where(Message.id.in_(list(message_ids)), Message.status == "sending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def stuck(session: Session, *, older_than: timedelta, limit: int = 1000) -> list[Message]:
    """Rows in ``sending`` whose claim is older than the lease (their worker died or timed out)."""
    cutoff = utcnow() - older_than
    return list(
        session.scalars(
            select(Message)
            .where(Message.status == "sending", Message.claimed_at <= cutoff)
            .order_by(Message.id)
            .limit(limit)
        )
    )


def orphaned(session: Session, *, older_than: timedelta, limit: int = 10000) -> list[tuple[int, str]]:
    """(id, lane) of ``queued`` rows overdue by more than ``older_than``: their job never ran."""
    cutoff = utcnow() - older_than
    due = or_(
        and_(Message.not_before.is_(None), Message.created_at <= cutoff),
        Message.not_before <= cutoff,
    )
    stmt = (
        select(Message.id, Message.lane)
        .where(Message.status == "queued", Message.direction == "out", due)
        .order_by(Message.id)
        .limit(limit)
    )
    return [(int(i), str(lane)) for i, lane in session.execute(stmt)]
