"""Merging two contact records of one person into one.

The target keeps its number; it gains the source's missing fields, attributes it lacks, tags,
list memberships, consent ledger and engagement, and the stricter consent state (an opt-out on
either record wins). Rows of other packages that point at the source (conversations, messages,
campaign recipients, ...) are re-pointed generically, through the foreign keys to ``contacts.id``
found in the metadata, so this module needs no import of those packages. The source row is then
deleted; its number goes on the suppression list when it was opted out, so it stays blocked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.models import ConsentEvent, Contact, ContactTag, EngagementEvent, ListMembership
from contacts.service import set_tags
from core.db import Base
from core.errors import Conflict, ValidationFailed

_OWN_TABLES = frozenset(
    {
        "contacts",
        "contact_tags",
        "contact_list_members",
        "contact_attribute_values",
        "consent_events",
        "engagement_events",
    }
)
_CONSENT_RANK = {"none": 0, "pending": 1, "opted_in": 2, "opted_out": 3}


def _foreign_references() -> list[tuple[Table, str]]:
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in _OWN_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "contacts" and fk.column.name == "id":
                found.append((table, fk.parent.name))
    return found


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def merge_contacts(session: Session, *, target: Contact, source: Contact) -> dict[str, Any]:
    """Fold ``source`` into ``target`` and delete ``source``; returns what moved (for the audit).

    Raises:
        ValidationFailed: same contact, or either one is erased.
        Conflict: another package's rows cannot be re-pointed (a uniqueness clash), nothing changed.
    """
    if target.id == source.id:
        raise ValidationFailed("a contact cannot be merged into itself")
    if target.erased or source.erased:
        raise ValidationFailed("erased contacts cannot be merged")
    moved: dict[str, Any] = {"source_id": source.id}
    for field in ("name", "first_name", "language", "timezone"):
        if not getattr(target, field) and getattr(source, field):
            setattr(target, field, getattr(source, field))
    target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
    target.external_ids = {**(source.external_ids or {}), **(target.external_ids or {})}
    set_tags(session, target, [*target.tags, *source.tags])
    attrs.reindex(session, target, attrs.schema(session))
    if _CONSENT_RANK.get(source.consent_status, 0) > _CONSENT_RANK.get(target.consent_status, 0):
        target.consent_status = source.consent_status
    target.opted_out = target.opted_out or source.opted_out

    member_of = set(
        session.scalars(select(ListMembership.list_id).where(ListMembership.contact_id == target.id))
    )
    session.execute(
        delete(ListMembership).where(
            ListMembership.contact_id == source.id, ListMembership.list_id.in_(member_of)
        )
    )
    moved["lists"] = _rowcount(
        session.execute(
            update(ListMembership).where(ListMembership.contact_id == source.id).values(contact_id=target.id)
        )
    )
    # re-pointing keeps the ledger rows as they were written (their phone_index is the source's)
    moved["consent_events"] = _rowcount(
        session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.contact_id == source.id)
            .values(contact_id=target.id)
            .execution_options(synchronize_session=False)
        )
    )
    moved["engagement_events"] = _rowcount(
        session.execute(
            update(EngagementEvent)
            .where(EngagementEvent.contact_id == source.id)
            .values(contact_id=target.id)
        )
    )
    for table, column in _foreign_references():
        try:
            with session.begin_nested():
                count = _rowcount(
                    session.execute(
                        table.update().where(table.c[column] == source.id).values({column: target.id})
                    )
                )
        except IntegrityError:
            raise Conflict(f"cannot merge: rows of {table.name} clash for these two contacts") from None
        if count:
            moved[table.name] = count
    if source.opted_out and source.phone_index:
        consent.suppress(
            session, phone_index=source.phone_index, reason="merged", note="opted out; merged away"
        )
    session.execute(delete(ContactTag).where(ContactTag.contact_id == source.id))
    session.delete(source)
    session.flush()
    return moved
