"""The contact card beside a thread: only the facts on record, and what is missing said in words.

It showed "—" for every empty field and "Subscribed" for anyone who had not opted out, although a
contact with no consent on record gets no marketing (``contacts.consent.consent_verdicts`` is the one
policy; this module only words its answer for an agent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from api.console import country_name, language_name
from channels.phone import NO_SMS
from contacts.consent import consent_verdicts
from contacts.models import Contact
from core.db import utcnow

#: why no text reaches the contact at all (the conversational lane's verdicts): an agent about to reply
#: must know before typing
UNREACHABLE = {
    "erased": "Erased: no text can be sent to this contact",
    "invalid_number": "The number cannot receive texts: no text will arrive, replies included",
    "suppressed": "The number is on the suppression list: no text will be sent, replies included",
    "opted_out": "Opted out (STOP): no text will be sent, replies included, until they text START",
}


@dataclass(frozen=True)
class Fact:
    label: str
    text: str
    warning: bool = False  # something the agent should not miss: shown emphasised


def unreachable(session: Session, contact: Contact | None) -> str:
    """Why no text, a reply included, reaches ``contact`` now, in words; empty when one can.

    The thread shows it in place of the reply box: an agent typed a reply to a customer who had
    texted STOP, saw it "queued", and it was then closed "rejected" (``handoff.flows.agent_reply``
    now refuses it before anything is queued).
    """
    if contact is None:
        return "Gone: this conversation's contact no longer exists"
    return unreachable_among(session, [contact]).get(contact.id, "")


def unreachable_among(session: Session, contacts: list[Contact]) -> dict[int, str]:
    """:func:`unreachable` for many contacts in one query: the ones no text reaches, each with why in words.

    The inbox marks their rows: a customer who texted STOP while waiting for a person stayed in the queue as any
    other, and the agent learnt that no reply could go only once the thread was open.
    """
    verdicts = consent_verdicts(session, [c.id for c in contacts], "conversational")
    said = {}
    for contact in contacts:
        refused = verdicts.get(contact.id)
        if refused == "invalid_number" and contact.line_type in NO_SMS:
            said[contact.id] = f"The number is {NO_SMS[contact.line_type]}: it cannot receive texts, replies included"
        elif refused is not None:
            said[contact.id] = UNREACHABLE[refused]
    return said


def consent_fact(session: Session, contact: Contact) -> Fact:
    """What the contact may receive: nothing at all, service texts only, or marketing too, and why."""
    refused = unreachable(session, contact)
    if refused:
        return Fact("Consent", refused, warning=True)
    if contact.consent_status == "opted_in":
        return Fact("Consent", "Opted in to marketing")
    if consent_verdicts(session, [contact.id], "marketing").get(contact.id) is None:
        return Fact("Consent", "No opt-in on record; receives marketing as an existing customer (soft opt-in)")
    if contact.consent_status == "opted_out":  # declined marketing (an import's "no"), not a STOP: the check above
        return Fact("Consent", "Declined marketing: service texts and replies still reach them", warning=True)
    if contact.consent_status == "pending":
        return Fact("Consent", "Opt-in not confirmed yet: cannot receive marketing", warning=True)
    return Fact("Consent", "No consent on record: cannot receive marketing", warning=True)


def local_time(timezone: str, now: datetime) -> str:
    """The zone with the contact's time in it, "Europe/Paris (15:42 there)"; the name alone if unknown."""
    try:
        there = now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return timezone
    return f"{timezone} ({there:%H:%M} there)"


def facts(session: Session, contact: Contact | None, *, campaign_messages: int) -> list[Fact]:
    """The card's lines, in reading order: only fields that hold something, plus consent, always."""
    if contact is None:
        return [Fact("Contact", "Gone: this conversation's contact no longer exists", warning=True)]
    found: list[Fact] = []
    name = contact.name or contact.first_name
    if name:
        found.append(Fact("Name", str(name)))
    found.append(Fact("Phone", contact.phone) if contact.phone else Fact("Phone", "No number on record", True))
    if contact.language:
        found.append(Fact("Language", language_name(contact.language)))
    if contact.country:
        found.append(Fact("Country", country_name(contact.country)))
    if contact.timezone:
        found.append(Fact("Time zone", local_time(contact.timezone, utcnow())))
    found.append(consent_fact(session, contact))
    if campaign_messages:
        found.append(Fact("Campaign texts", str(campaign_messages)))
    if contact.tags:
        found.append(Fact("Tags", ", ".join(contact.tags)))
    return found
