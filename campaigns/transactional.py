"""Transactional events (``order.created``, ``order.shipped``...) → templated messages on the transactional lane.

``EventTemplate`` maps an event type and a language to a template (``"*"`` = any language); the
contact's language picks the row, else the fallback. The event payload is the template's
``event`` variable. Transactional messages carry no marketing footer and pass only the
suppression/erasure check (an opted-out customer still gets the receipt they asked for). An
``idempotency_key`` makes a repeated event (a retried webhook) a no-op that answers the first
result. An ``order.created`` event whose data names ``campaign_id`` also records a conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import service
from campaigns.brand import business_name
from campaigns.links import Shortener, register_links
from campaigns.models import EventTemplate, Template, TransactionalEvent
from campaigns.schemas import ConversionIn, EventContact
from campaigns.templates import Compiled, contact_context
from channels.phone import normalize_e164, phone_info
from contacts.models import Contact
from contacts.service import get_or_create_by_phone, record_engagement
from conversations.flows import queue_outbound
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings


@dataclass(frozen=True)
class EventResult:
    event: TransactionalEvent
    duplicate: bool


def resolve_contact(session: Session, *, contact_id: int | None, contact: EventContact | None) -> Contact:
    """The contact by id, or by phone (created with the given name/language when new).

    Raises:
        NotFound: unknown ``contact_id``. ValidationFailed: neither given, or an invalid phone.
    """
    if contact_id is not None:
        found = session.get(Contact, contact_id)
        if found is None or found.erased:
            raise NotFound(f"contact {contact_id} not found")
        return found
    if contact is None:
        raise ValidationFailed("an event needs contact_id or contact.phone", errors=[{"field": "contact"}])
    settings = get_settings()
    e164 = normalize_e164(contact.phone, region=settings.default_region, field="contact.phone")
    info = phone_info(e164)
    found, created = get_or_create_by_phone(session, phone_e164=e164, country=info.region or "",
                                            timezone=info.timezone, language=contact.language)
    if created:
        found.first_name, found.name = contact.first_name, contact.name
        session.flush()
    return found


def template_for(session: Session, event_type: str, language: str | None) -> Template | None:
    rows = {row.language: row.template_id for row in session.scalars(
        select(EventTemplate).where(EventTemplate.event_type == event_type))}
    template_id = rows.get(language or "") or rows.get("*")
    return session.get(Template, template_id) if template_id is not None else None


def set_mapping(session: Session, *, event_type: str, language: str, template_id: int) -> EventTemplate:
    """Map ``event_type`` (in ``language``, or ``*``) to a transactional template."""
    template = service.get_template(session, template_id)
    if template.kind != "transactional":
        raise ValidationFailed(f"template {template_id} is a {template.kind} template; events need a "
                               "transactional one", errors=[{"field": "template_id"}])
    row = session.scalar(select(EventTemplate).where(EventTemplate.event_type == event_type,
                                                     EventTemplate.language == language))
    if row is None:
        row = EventTemplate(event_type=event_type, language=language, template_id=template_id)
        session.add(row)
    row.template_id = template_id
    session.flush()
    return row


def handle_event(session: Session, *, event_type: str, contact: Contact, data: Mapping[str, Any],
                 idempotency_key: str | None, source: str, expires_at: datetime | None = None) -> EventResult:
    """Record the event and queue its message; the status says ``sent``, ``no_template`` or ``blocked``.

    ``sent`` means queued for the transactional lane (delivered by the send job after commit).
    ``expires_at`` (a one-time code's validity): past it the message is closed ``expired``, not sent.
    """
    from contacts.consent import blocked_contact_ids

    if idempotency_key:
        seen = session.scalar(select(TransactionalEvent).where(TransactionalEvent.idempotency_key == idempotency_key))
        if seen is not None:
            return EventResult(seen, duplicate=True)
    event = TransactionalEvent(event_type=event_type, idempotency_key=idempotency_key, contact_id=contact.id,
                               source=source)
    session.add(event)
    session.flush()
    _record_purchase(session, event_type, contact, data)
    template = template_for(session, event_type, contact.language)
    if template is None:
        event.status = "no_template"
    elif contact.id in blocked_contact_ids(session, [contact.id], "transactional"):
        event.status = "blocked"
    else:
        context = contact_context(first_name=contact.first_name, name=contact.name, language=contact.language,
                                  country=contact.country, timezone=contact.timezone, attributes=contact.attributes,
                                  business_name=business_name(session), event=data)
        text = Compiled(template.body, template.language).render(context)
        links = register_links(session, campaign_id=None, source=template.body)
        text = Shortener.from_settings().rewrite(text, links, contact.id)
        message = queue_outbound(session, contact=contact, body=text, lane="transactional", author_type="system",
                                 author_id=f"event:{event_type}"[:64], media=template.media,
                                 idempotency_key=f"event:{event.id}", expires_at=expires_at)
        event.message_id = message.id
        event.status = "sent"
    session.flush()
    return EventResult(event, duplicate=False)


def _record_purchase(session: Session, event_type: str, contact: Contact, data: Mapping[str, Any]) -> None:
    """An ``order.created`` is a purchase: a conversion of the campaign it names (which records the
    ``purchased`` engagement), else a ``purchased`` engagement alone."""
    if event_type != "order.created":
        return
    order = data.get("order") if isinstance(data.get("order"), Mapping) else {}
    reference = str((order or {}).get("id") or (order or {}).get("number") or f"event-contact-{contact.id}")
    campaign_id = data.get("campaign_id")
    if not isinstance(campaign_id, int):
        # an order is a purchase with or without a campaign: the soft opt-in's "existing customer"
        record_engagement(session, contact_id=contact.id, kind="purchased", ref=f"order:{reference}")
        return
    value = (order or {}).get("total_micros", 0)
    campaign = service.get_campaign(session, campaign_id)
    service.record_conversion(session, campaign, ConversionIn(reference=reference, contact_id=contact.id,
                                                              value_micros=int(value or 0)), source="event")
