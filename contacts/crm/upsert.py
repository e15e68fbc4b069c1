"""Upsert one contact coming from an external system (HubSpot, a signed webhook feed).

Consent from a CRM may opt a person out at any time, but may only opt them in while Relais has no
opt-out for them: an opt-out the person sent us (STOP) wins over a stale CRM flag. A CRM's "no" is
``declined``: no marketing consent, not a STOP, as a "no" in an imported file's consent column
(``contacts.importer.consent_answer``, ``contacts.import_writer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from channels.phone import phone_info
from contacts import attributes as attrs
from contacts import consent
from contacts.models import Contact
from contacts.service import check_language, check_timezone, find_by_phone, set_tags
from core.crypto import blind_index

#: ``opted_out`` is a STOP (no text at all), ``declined`` no marketing consent (service texts and replies still go)
ConsentValue = Literal["opted_in", "declined", "opted_out"]


@dataclass(frozen=True)
class ExternalContact:
    phone: str
    system: str  # "hubspot", "webhook"
    external_id: str = ""
    name: str | None = None
    first_name: str | None = None
    language: str | None = None
    timezone: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    consent: ConsentValue | None = None
    proof: str = ""


def upsert(
    session: Session, record: ExternalContact, *, region: str | None, known: attrs.Schema
) -> tuple[Contact, bool]:
    """Create or update the contact for ``record``; returns ``(contact, created)``.

    Raises:
        InvalidPhoneNumber / ValidationFailed: a bad number, language, zone or attribute.
    """
    info = phone_info(record.phone, region=region)
    language = check_language(record.language)
    timezone = check_timezone(record.timezone)
    values = attrs.validate(known, dict(record.attributes))
    contact = find_by_phone(session, info.e164)
    created = contact is None
    if contact is None:
        contact = Contact(
            phone=info.e164,
            phone_index=blind_index(info.e164),
            country=info.region or "",
            line_type=info.line_type,
            timezone=timezone or info.timezone,
            attributes={},
            tags=[],
            external_ids={},
        )
        session.add(contact)
        session.flush()
    elif timezone:
        contact.timezone = timezone
    contact.name = record.name or contact.name
    contact.first_name = record.first_name or contact.first_name
    contact.language = language or contact.language
    if record.external_id:
        contact.external_ids = {**(contact.external_ids or {}), record.system: record.external_id}
    if values:
        contact.attributes = attrs.merged(contact.attributes or {}, values)
        attrs.reindex(session, contact, known)
    if record.tags:
        set_tags(session, contact, [*(contact.tags or []), *record.tags])
    proof = record.proof or f"{record.system} {record.external_id}".strip()
    if record.consent == "opted_out" and not contact.opted_out:
        consent.record_opt_out(session, contact=contact, source="crm", proof=proof)
    elif record.consent == "declined" and contact.consent_status != "opted_out":
        consent.record_declined(session, contact=contact, source="crm", proof=proof)
    elif record.consent == "opted_in" and not contact.opted_out and contact.consent_status != "opted_in":
        consent.record_opt_in(session, contact=contact, source="crm", proof=proof)
    session.flush()
    return contact, created
