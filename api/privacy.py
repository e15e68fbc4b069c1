"""Privacy requests across packages: export everything held on a person, and erase it.

This lives in ``api`` because it spans packages (contacts, conversations, handoff); domain
packages never import each other sideways.

Erasure wipes the number, names, attributes, tags, list memberships, engagement, orders (with their
lines) and predictions, consent proofs,
every message body, media reference and analysis, the provider's raw copy of inbound texts (also
the parts of a concatenated text that are not linked to the joined message, parts of one that
never completed, and texts still waiting to be ingested), agents' notes and escalation reasons,
the running imports' duplicate check, rows of recent imports handed back with their cells (rejected
or warned about) that hold the number in any spelling, and in Redis what the simulated phone received and its
pending delivery reports. It keeps the tombstone the law requires: the contact row (``erased``, opted out,
no phone), the consent ledger (actions, sources, times and the blind index, proofs wiped) and a
suppression entry for the blind index, so the number is never texted again even if it comes back
as a new contact.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from channels.simulator_outbox import redis_outbox
from contacts import consent
from contacts.models import (
    AttributeValue,
    Contact,
    ContactImportNumber,
    ContactImportProblem,
    ContactTag,
    EngagementEvent,
    ListMembership,
    Suppression,
)
from contacts.orders import erase_orders, list_orders
from contacts.service import list_ids_of
from conversations.models import Conversation, InboundEvent, Message
from core import audit
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict
from core.settings import get_settings
from handoff.models import Escalation, Note
from intelligence import store as predictions

ERASED = ""


def _wipe(session: Session, stmt: Any) -> int:
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(session: Session, contact: Contact, *, actor: Actor) -> dict[str, Any]:
    """Everything Relais holds on this contact, decrypted, as one JSON-ready document (audited)."""
    suppressed = contact.phone_index is not None and (
        session.scalar(select(Suppression.id).where(Suppression.phone_index == contact.phone_index)) is not None
    )
    messages = session.scalars(select(Message).where(Message.contact_id == contact.id).order_by(Message.id))
    conversations = session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id).order_by(Conversation.id)
    )
    notes = session.scalars(
        select(Note)
        .join(Conversation, Conversation.id == Note.conversation_id)
        .where(Conversation.contact_id == contact.id)
        .order_by(Note.id)
    )
    engagement = session.scalars(
        select(EngagementEvent).where(EngagementEvent.contact_id == contact.id).order_by(EngagementEvent.id)
    )
    document = {
        "exported_at": utcnow().isoformat(),
        "contact": {
            "id": contact.id,
            "phone": contact.phone,
            "name": contact.name,
            "first_name": contact.first_name,
            "country": contact.country,
            "language": contact.language,
            "timezone": contact.timezone,
            "attributes": contact.attributes or {},
            "tags": contact.tags or [],
            "lists": list_ids_of(session, contact.id),
            "external_ids": contact.external_ids or {},
            "consent_status": contact.consent_status,
            "opted_out": contact.opted_out,
            "suppressed": suppressed,
            "erased": contact.erased,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "consent_history": [
            {
                "action": e.action,
                "source": e.source,
                "proof": e.proof,
                "at": _iso(e.at),
                "actor_type": e.actor_type,
            }
            for e in consent.history(session, contact)
        ],
        "conversations": [
            {
                "id": c.id,
                "state": c.state,
                "channel": c.channel,
                "created_at": _iso(c.created_at),
                "closed_at": _iso(c.closed_at),
            }
            for c in conversations
        ],
        "messages": [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "direction": m.direction,
                "body": m.body,
                "media": m.media,
                "lane": m.lane,
                "status": m.status,
                "author_type": m.author_type,
                "campaign_id": m.campaign_id,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
                "delivered_at": _iso(m.delivered_at),
            }
            for m in messages
        ],
        "notes": [
            {"conversation_id": n.conversation_id, "body": n.body, "created_at": _iso(n.created_at)} for n in notes
        ],
        "engagement": [{"kind": e.kind, "at": _iso(e.at), "ref": e.ref} for e in engagement],
        "orders": [
            {
                "source": v.order.source,
                "external_id": v.order.external_id,
                "ordered_at": _iso(v.order.ordered_at),
                "status": v.order.status,
                "currency": v.order.currency,
                "total_micros": v.order.total_micros,
                "lines": [
                    {"product_id": line.product_id, "description": line.description, "quantity": line.quantity,
                     "unit_price_micros": line.unit_price_micros}
                    for line in v.lines
                ],
            }
            for v in list_orders(session, contact.id, limit=None)
        ],
        "predictions": [
            {"kind": p.kind, "value": p.value, "detail": p.detail, "model_version": p.version,
             "computed_at": _iso(p.computed_at)}
            for p in predictions.current(session, contact.id).values()
        ],
    }
    audit.record(session, actor=actor, action="contact.export", target_type="contact", target_id=contact.id)
    return document


def _wipe_staged_inbound(session: Session, *, phone: str | None, phone_index: str | None) -> int:
    """Inbound events the contact's message ids do not reach, wiped and marked processed.

    Only the last part of a concatenated text links to the joined message; the other parts, and
    the parts of a text whose remaining parts never came, carry the sender's blind index in their
    ``concat_key``. A text not yet ingested has no message at all: the few unprocessed events are
    decrypted to find the number.
    """
    wiped = 0
    if phone_index:
        wiped += _wipe(
            session,
            update(InboundEvent)
            .where(InboundEvent.concat_key.like(f"%:{phone_index}:%"))
            .values(payload={}, concat_key=None, processed_at=utcnow()),
        )
    if phone:
        pending = session.scalars(select(InboundEvent).where(InboundEvent.processed_at.is_(None)))
        for event in pending:
            if event.payload.get("from") == phone:
                event.payload = {}
                event.processed_at = utcnow()
                wiped += 1
    return wiped


def _national_digits(text: str, region: str) -> str | None:
    """The national significant number written in ``text`` (any spelling), or None."""
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    return str(number.national_number) if len(str(number.national_number)) >= 6 else None


def _wipe_import_rows(session: Session, *, phone: str | None, region: str) -> int:
    """Cells of import rows handed back to the importer (kept encrypted for a week for the
    ``rejected.csv``) that hold the number, however it was written, are wiped."""
    wanted = _national_digits(phone, region) if phone else None
    if wanted is None:
        return 0
    wiped = 0
    for problem in session.scalars(
        select(ContactImportProblem).where(ContactImportProblem.cells.is_not(None)).execution_options(yield_per=500)
    ):
        if any(_national_digits(str(cell), region) == wanted for cell in problem.cells or []):
            problem.cells = None
            wiped += 1
    return wiped


def erase_person(session: Session, contact: Contact, *, actor: Actor) -> dict[str, int]:
    """Erase a contact's personal data, keeping the consent tombstone (see the module docstring).

    Returns counts of what was wiped (also written to the audit log).

    Raises:
        Conflict: the contact was already erased.
    """
    if contact.erased:
        raise Conflict(f"contact {contact.id} is already erased")
    if contact.phone_index:
        consent.suppress(session, phone_index=contact.phone_index, reason="erased")
        if not contact.opted_out:
            consent.record_opt_out(session, contact=contact, source="erasure", proof="erasure request")
    message_ids = select(Message.id).where(Message.contact_id == contact.id).scalar_subquery()
    conversation_ids = select(Conversation.id).where(Conversation.contact_id == contact.id).scalar_subquery()
    counts = {
        "messages": _wipe(
            session,
            update(Message).where(Message.contact_id == contact.id).values(body=ERASED, media=[], analysis={}),
        ),
        # the provider's raw copy of each inbound text, kept for replay detection
        "inbound_events": _wipe(
            session, update(InboundEvent).where(InboundEvent.message_id.in_(message_ids)).values(payload={})
        ),
        "inbound_parts": _wipe_staged_inbound(session, phone=contact.phone, phone_index=contact.phone_index),
        # agents' notes and the escalation's free-text reason are about the person
        "notes": _wipe(session, update(Note).where(Note.conversation_id.in_(conversation_ids)).values(body=ERASED)),
        "escalations": _wipe(
            session,
            update(Escalation).where(Escalation.conversation_id.in_(conversation_ids)).values(reason_text=ERASED),
        ),
        "consent_proofs": consent.wipe_proofs(session, contact),
        "import_rows": _wipe_import_rows(session, phone=contact.phone,
                                         region=contact.country or get_settings().default_region),
        "simulator_messages": redis_outbox().forget(contact.phone) if contact.phone else 0,
        "orders": erase_orders(session, contact.id),
        "predictions": predictions.erase(session, contact.id),
    }
    for table in (EngagementEvent, ListMembership, ContactTag, AttributeValue):
        session.execute(delete(table).where(table.contact_id == contact.id))
    if contact.phone_index:
        session.execute(delete(ContactImportNumber).where(ContactImportNumber.phone_index == contact.phone_index))
    contact.phone = None
    contact.phone_index = None
    contact.name = None
    contact.first_name = None
    contact.attributes = {}
    contact.tags = []
    contact.external_ids = {}
    contact.opted_out = True
    contact.consent_status = "opted_out"
    contact.erased = True
    session.flush()
    audit.record(session, actor=actor, action="contact.erase", target_type="contact", target_id=contact.id, diff=counts)
    return counts
