"""Small builders of campaign test data (contacts, templates, campaigns)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from campaigns import service
from campaigns.models import Campaign, Template
from campaigns.schemas import CampaignIn, TemplateIn
from contacts.consent import record_opt_in
from contacts.models import Contact
from core.crypto import blind_index


def create_contact(session: Session, n: int, *, opted_in: bool = True, **fields: Any) -> Contact:
    """A French contact; with an opt-in on record unless ``opted_in=False`` (marketing needs one)."""
    phone = fields.pop("phone", f"+3361234{n:04d}")
    values: dict[str, Any] = {"country": "FR", "language": "fr", "timezone": "Europe/Paris", "attributes": {},
                              "tags": []}
    values.update(fields)
    contact = Contact(phone=phone, phone_index=blind_index(phone), **values)
    session.add(contact)
    session.flush()
    if opted_in and contact.consent_status == "none" and not (contact.opted_out or contact.erased):
        record_opt_in(session, contact=contact, source="form", proof="test sign-up form")
    return contact


def create_template(session: Session, body: str = 'Bonjour {{ first_name | default("") }}, -20% https://shop.example/sale',
                    **fields: Any) -> Template:
    return service.save_template(session, TemplateIn(name=fields.pop("name", "promo"), body=body,
                                                     language=fields.pop("language", "fr"), **fields))


def create_campaign(session: Session, template: Template, **fields: Any) -> Campaign:
    values: dict[str, Any] = {"name": "spring", "template_id": template.id, "quiet_start": "23:59",
                              "quiet_end": "00:00", "respect_country_rules": False}
    values.update(fields)
    return service.create_campaign(session, CampaignIn(**values), created_by="test")
