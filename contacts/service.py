"""Contact database work: look-ups by phone (blind index), create/update, tags, lists, engagement.

Services only ``flush()``; the caller's request or job commits. Audit records are written by the
caller (the API or CLI knows the actor), except consent changes, which ``contacts.consent`` audits.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.phone import InvalidPhoneNumber, phone_info, receives_sms
from contacts import attributes as attrs
from contacts.models import (
    ENGAGEMENT_KINDS,
    Contact,
    ContactList,
    ContactTag,
    EngagementEvent,
    ListMembership,
)
from core.crypto import blind_index
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")
_TAG = re.compile(r"^[\w][\w .:/-]{0,63}$")
_ZONES = frozenset(zoneinfo.available_timezones())
EDITABLE = ("name", "first_name", "language", "timezone")


def find_by_phone(session: Session, phone_e164: str) -> Contact | None:
    """The contact with this E.164 number, or ``None``."""
    return session.scalar(select(Contact).where(Contact.phone_index == blind_index(phone_e164)))


def guess_timezone(phone_e164: str) -> str | None:
    """The number's time zone when phonenumbers knows one, else ``None`` (never raises)."""
    try:
        return phone_info(phone_e164).timezone
    except InvalidPhoneNumber:
        return None


def line_type_of(phone_e164: str, *, texted_in: bool = False) -> str:
    """The line type to store for a new contact's number (``Contact.line_type``).

    ``texted_in``: the number sent us a text, which proves it takes texts, so a class the numbering plan
    says cannot (``channels.phone.NO_SMS``) is stored as ``unknown`` rather than blocking the replies.
    A number that does not validate (a short code, a sender name) is ``unknown`` too.
    """
    try:
        line_type: str = phone_info(phone_e164).line_type
    except InvalidPhoneNumber:
        return "unknown"
    return "unknown" if texted_in and not receives_sms(line_type) else line_type


def _proved_textable(contact: Contact) -> None:
    """A known contact's number just texted us: a class the plan said cannot take texts (a landline
    imported with a warning) becomes ``unknown``, so the reply to it is not refused (:func:`line_type_of`)."""
    if contact.line_type is not None and not receives_sms(contact.line_type):
        contact.line_type = "unknown"


def get_or_create_by_phone(
    session: Session,
    *,
    phone_e164: str,
    country: str = "",
    timezone: str | None = None,
    language: str | None = None,
    texted_in: bool = False,
) -> tuple[Contact, bool]:
    """Return ``(contact, created)``; a new contact starts with no consent recorded.

    The time zone is inferred from the number when not given, and its line type recorded (see
    :func:`line_type_of`; pass ``texted_in`` when the number just texted us). Safe against a concurrent
    creation of the same number: the one committed first is returned.
    """
    found = find_by_phone(session, phone_e164)
    if found is not None:
        if texted_in:
            _proved_textable(found)
        return found, False
    contact = Contact(
        phone=phone_e164,
        phone_index=blind_index(phone_e164),
        country=country,
        line_type=line_type_of(phone_e164, texted_in=texted_in),
        timezone=timezone or guess_timezone(phone_e164),
        language=language,
        attributes={},
        tags=[],
    )
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
    except IntegrityError:
        # another transaction added this number since our look-up (two sends or two texts at once)
        found = find_by_phone(session, phone_e164)
        if found is None:
            raise
        return found, False
    return contact, True


def get_or_create_many_by_phone(
    session: Session, numbers: Mapping[str, tuple[str, str | None]]
) -> dict[str, Contact]:
    """:func:`get_or_create_by_phone` for many numbers in a few statements (the inbound batch):
    ``numbers`` maps each E.164 number to its ``(country, timezone)``; returns the contact per number.

    The known ones are read in one statement and the new ones inserted in one (``ON CONFLICT DO
    NOTHING``); a number a concurrent transaction added meanwhile is not inserted again but read
    through :func:`get_or_create_by_phone`, which returns the one committed first. Every number here
    texted us, so none is refused as a landline (:func:`line_type_of`).
    """
    by_index = {blind_index(phone): phone for phone in numbers}
    found = {
        by_index[str(contact.phone_index)]: contact
        for contact in session.scalars(select(Contact).where(Contact.phone_index.in_(list(by_index))))
    }
    for contact in found.values():
        _proved_textable(contact)
    missing = [phone for phone in numbers if phone not in found]
    if not missing:
        return found
    # INSERT ... ON CONFLICT DO NOTHING RETURNING: no savepoint round trips around the insert; a number
    # another transaction added since the look-up is skipped by the insert and read as committed
    now = utcnow()
    rows: list[dict[str, Any]] = [{"phone": phone, "phone_index": blind_index(phone), "country": numbers[phone][0],
             "line_type": line_type_of(phone, texted_in=True),
             "timezone": numbers[phone][1] or guess_timezone(phone), "attributes": {}, "tags": [],
             "created_at": now, "updated_at": now} for phone in missing]
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = session.scalars(
        upsert(Contact).on_conflict_do_nothing(index_elements=["phone_index"]).returning(Contact), rows
    ).all()
    created = {by_index[str(contact.phone_index)]: contact for contact in inserted}
    raced = {phone: get_or_create_by_phone(session, phone_e164=phone, country=numbers[phone][0],
                                           timezone=numbers[phone][1], texted_in=True)[0]
             for phone in missing if phone not in created}
    return {**found, **created, **raced}


def get(session: Session, contact_id: int) -> Contact:
    """The contact or ``NotFound``."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


def check_language(value: str | None, field: str = "language") -> str | None:
    """A BCP 47-ish language code (``fr``, ``pt-BR``) lower-cased, or ``ValidationFailed``."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _LANGUAGE.match(value):
        raise ValidationFailed(
            f"{field}: {value!r} is not a language code such as 'fr' or 'pt-BR'", errors=[{"field": field}]
        )
    return value


def check_timezone(value: str | None, field: str = "timezone") -> str | None:
    """An IANA zone name or ``ValidationFailed``."""
    if value is None or not value.strip():
        return None
    if value.strip() not in _ZONES:
        raise ValidationFailed(
            f"{field}: {value!r} is not an IANA time zone such as 'Europe/Paris'", errors=[{"field": field}]
        )
    return value.strip()


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags trimmed, de-duplicated and sorted; ``ValidationFailed`` for an unusable one."""
    out = set()
    for tag in tags:
        value = str(tag).strip()
        if not value:
            continue
        if not _TAG.match(value):
            raise ValidationFailed(
                f"tag {value!r} must be 1-64 letters, digits, spaces or . : / - _", errors=[{"field": "tags"}]
            )
        out.add(value)
    return sorted(out)


def set_tags(session: Session, contact: Contact, tags: Iterable[str]) -> None:
    """Replace the contact's tags (the denormalised column and the ``contact_tags`` index)."""
    cleaned = clean_tags(tags)
    session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id))
    if cleaned:
        session.execute(insert(ContactTag), [{"contact_id": contact.id, "tag": t} for t in cleaned])
    contact.tags = cleaned


def create(
    session: Session,
    *,
    phone: str,
    region: str | None = None,
    name: str | None = None,
    first_name: str | None = None,
    language: str | None = None,
    timezone: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
    list_ids: Iterable[int] = (),
) -> Contact:
    """Create a contact from user input (the number in any form ``phone_info`` accepts).

    Raises:
        InvalidPhoneNumber / ValidationFailed: bad number, language, zone, tag or attribute.
        Conflict: a contact with this number exists (its id is in ``errors``).
    """
    info = phone_info(phone, region=region)
    existing = find_by_phone(session, info.e164)
    if existing is not None:
        raise Conflict(
            f"a contact with this number exists (id {existing.id}); merge or update it",
            errors=[{"field": "phone", "contact_id": existing.id}],
        )
    known = attrs.schema(session)
    values = {k: v for k, v in attrs.validate(known, attributes or {}).items() if v is not None}
    contact = Contact(
        phone=info.e164,
        phone_index=blind_index(info.e164),
        country=info.region or "",
        line_type=info.line_type,
        name=(name or "").strip() or None,
        first_name=(first_name or "").strip() or None,
        language=check_language(language),
        timezone=check_timezone(timezone) or info.timezone,
        attributes=values,
        tags=[],
    )
    session.add(contact)
    session.flush()
    set_tags(session, contact, tags)
    attrs.reindex(session, contact, known)
    add_to_lists(session, contact_ids=[contact.id], list_ids=list_ids)
    session.flush()
    return contact


def update(session: Session, contact: Contact, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial update (``name``, ``first_name``, ``language``, ``timezone``, ``attributes``
    merged key by key with ``None`` removing, ``tags`` replaced). Returns the audit diff.

    Raises:
        ValidationFailed: a bad value, or the contact is erased.
    """
    if contact.erased:
        raise ValidationFailed("this contact was erased and cannot be changed")
    before = {k: getattr(contact, k) for k in (*EDITABLE, "tags")}
    for field in ("name", "first_name"):
        if field in changes:
            setattr(contact, field, (changes[field] or "").strip() or None)
    if "language" in changes:
        contact.language = check_language(changes["language"])
    if "timezone" in changes:
        contact.timezone = check_timezone(changes["timezone"])
    diff: dict[str, Any] = {}
    if changes.get("attributes") is not None:
        known = attrs.schema(session)
        values = attrs.validate(known, changes["attributes"])
        contact.attributes = attrs.merged(contact.attributes or {}, values)
        attrs.reindex(session, contact, known)
        diff["attributes"] = sorted(values)
    if changes.get("tags") is not None:
        set_tags(session, contact, changes["tags"])
    session.flush()
    after = {k: getattr(contact, k) for k in (*EDITABLE, "tags")}
    return {**_changes(before, after), **diff}


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {k: [before[k], after[k]] for k in before if before[k] != after[k]}


# -- lists -------------------------------------------------------------------------------------


def create_list(session: Session, *, name: str, description: str = "") -> ContactList:
    name = name.strip()
    if not name:
        raise ValidationFailed("list name is empty", errors=[{"field": "name"}])
    if session.scalar(select(ContactList.id).where(ContactList.name == name)) is not None:
        raise Conflict(f"a list named {name!r} exists")
    found = ContactList(name=name, description=description)
    session.add(found)
    session.flush()
    return found


def get_list(session: Session, list_id: int) -> ContactList:
    found = session.get(ContactList, list_id)
    if found is None:
        raise NotFound(f"list {list_id} not found")
    return found


def add_to_lists(session: Session, *, contact_ids: Iterable[int], list_ids: Iterable[int]) -> int:
    """Add contacts to lists (already-members are skipped). Returns how many memberships were added.

    Raises:
        NotFound: an unknown list or contact id.
    """
    lists = sorted(set(list_ids))
    contacts = sorted(set(contact_ids))
    if not lists or not contacts:
        return 0
    found_lists = set(session.scalars(select(ContactList.id).where(ContactList.id.in_(lists))))
    if missing := set(lists) - found_lists:
        raise NotFound(f"lists not found: {sorted(missing)}")
    found_contacts = set(session.scalars(select(Contact.id).where(Contact.id.in_(contacts))))
    if missing := set(contacts) - found_contacts:
        raise NotFound(f"contacts not found: {sorted(missing)[:20]}")
    pairs = select(ListMembership.list_id, ListMembership.contact_id).where(
        ListMembership.list_id.in_(lists), ListMembership.contact_id.in_(contacts)
    )
    existing = {(list_id, contact_id) for list_id, contact_id in session.execute(pairs)}
    rows = [
        {"list_id": lid, "contact_id": cid, "added_at": utcnow()}
        for lid in lists
        for cid in contacts
        if (lid, cid) not in existing
    ]
    if rows:
        session.execute(insert(ListMembership), rows)
    return len(rows)


def remove_from_list(session: Session, *, list_id: int, contact_id: int) -> bool:
    result = session.execute(
        delete(ListMembership).where(
            ListMembership.list_id == list_id, ListMembership.contact_id == contact_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def list_ids_of(session: Session, contact_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ListMembership.list_id)
            .where(ListMembership.contact_id == contact_id)
            .order_by(ListMembership.list_id)
        )
    )


# -- engagement --------------------------------------------------------------------------------


def record_engagement(
    session: Session, *, contact_id: int, kind: str, ref: str = "", at: datetime | None = None
) -> EngagementEvent:
    """Record that a contact clicked / replied / purchased / was delivered something.

    Campaigns call it on clicks, conversions and delivery reports; conversations on replies.
    Segment rules such as "clicked within 30 days" read these rows.

    Raises:
        ValidationFailed: ``kind`` is not one of ``ENGAGEMENT_KINDS``.
    """
    if kind not in ENGAGEMENT_KINDS:
        raise ValidationFailed(f"engagement kind must be one of {', '.join(ENGAGEMENT_KINDS)}")
    row = EngagementEvent(contact_id=contact_id, kind=kind, ref=ref[:200], at=at or utcnow())
    session.add(row)
    session.flush()
    return row
