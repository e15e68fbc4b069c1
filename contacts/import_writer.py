"""Writing a batch of parsed import rows: duplicates within the file, existing contacts, suppressions,
then one bulk insert (contacts, tags, segmentable attributes, consent ledger) and the merges.

Shared by the background import (``contacts.import_runner``), the in-transaction import
(``contacts.importer.import_file``) and the preview (which counts without writing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.import_report import ImportOptions, ParsedRow, RowProblem
from contacts.models import (
    AttributeValue,
    ConsentEvent,
    Contact,
    ContactList,
    ContactTag,
    ListMembership,
    Suppression,
)
from contacts.service import set_tags
from core.audit import SYSTEM, Actor
from core.db import utcnow
from core.errors import NotFound
from core.sql import among


class SeenNumbers(Protocol):
    """Numbers met earlier in the same file (so a repeat is a duplicate, not an existing contact)."""

    def earlier(self, session: Session, firsts: Mapping[str, int]) -> dict[str, int]:
        """Of ``firsts`` (blind index → row), those seen before with their first row; remembers the rest."""
        ...


class MemorySeen:
    """:class:`SeenNumbers` in a dict: for files that fit (previews, the in-transaction sync)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def earlier(self, session: Session, firsts: Mapping[str, int]) -> dict[str, int]:
        found = {i: self.rows[i] for i in firsts if i in self.rows}
        self.rows.update((i, r) for i, r in firsts.items() if i not in found)
        return found


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    #: existing contacts whose row changes nothing (a file imported again): they were counted ``updated``, so a
    #: re-import that changed nothing reported "N updated"
    unchanged: int = 0
    skipped: int = 0
    without_consent: int = 0  # new contacts whose row records no consent: they get no marketing
    #: existing contacts whose row records no consent, by row number: the consent they keep (``consent_status``,
    #: ``"stop"`` when they opted out). They were counted in ``without_consent``, so the preview and the report
    #: said "no marketing texts" of people whose opt-in the import keeps.
    kept: dict[int, str] = field(default_factory=dict)
    #: row numbers of existing contacts that already have a language (a row giving none keeps it)
    with_language: set[int] = field(default_factory=set)
    problems: list[RowProblem] = field(default_factory=list)


def write_batch(
    session: Session,
    rows: list[ParsedRow],
    *,
    options: ImportOptions,
    known: attrs.Schema,
    seen: SeenNumbers,
    actor: Actor = SYSTEM,
    write: bool = True,
) -> BatchOutcome:
    """Insert new contacts and merge existing ones (or, with ``write=False``, count what would be).

    A number met earlier in the file is skipped with a ``duplicate_in_file`` warning; existing
    contacts follow ``options.on_existing``. Only flushes: the caller owns the transaction.
    """
    out = BatchOutcome()
    firsts: dict[str, int] = {}
    unique: list[ParsedRow] = []
    for row in rows:
        if row.index in firsts:
            out.problems.append(_duplicate(row, firsts[row.index]))
        else:
            firsts[row.index] = row.number
            unique.append(row)
    earlier = seen.earlier(session, firsts)
    fresh = []
    for row in unique:
        if row.index in earlier:
            out.problems.append(_duplicate(row, earlier[row.index]))
        else:
            fresh.append(row)
    out.skipped += len(rows) - len(fresh)
    indexes = [r.index for r in fresh]
    dialect = session.get_bind().dialect.name
    existing = {
        c.phone_index: c for c in session.scalars(select(Contact).where(among(Contact.phone_index, indexes, dialect)))
    }
    suppressed = set(
        session.scalars(select(Suppression.phone_index).where(among(Suppression.phone_index, indexes, dialect)))
    )
    merged: list[int] = []
    new_rows: list[ParsedRow] = []
    listed = _memberships(session, [c.id for c in existing.values()], options)
    for row in fresh:
        if row.index in suppressed:
            out.problems.append(
                RowProblem(
                    row.number,
                    row.column("phone"),
                    "suppressed",
                    "the number is on the suppression list; it will not be texted",
                    error=False,
                )
            )
        found = existing.get(row.index)
        if found is None:
            new_rows.append(row)
        elif options.on_existing == "error":
            out.problems.append(
                RowProblem(
                    row.number,
                    row.column("phone"),
                    "existing_contact",
                    f"contact {found.id} has this number",
                    cells=tuple(row.cells),
                )
            )
            continue
        elif options.on_existing == "skip":
            out.skipped += 1
            out.problems.append(
                RowProblem(
                    row.number,
                    row.column("phone"),
                    "existing_contact",
                    f"skipped: contact {found.id} exists",
                    error=False,
                )
            )
            continue
        else:
            if _changes(found, row) or listed.get(found.id, 0) < len(set(options.list_ids)):
                out.updated += 1
            else:
                out.unchanged += 1
            if write:
                _merge(session, found, row, known, out)
                merged.append(found.id)
        if row.consent is None and found is None:
            out.without_consent += 1
        elif row.consent is None and found is not None:
            out.kept[row.number] = "stop" if found.opted_out else found.consent_status
        if found is not None and found.language:
            out.with_language.add(row.number)
    out.created = len(new_rows)
    if write and merged:
        _join_lists(session, merged, options)
    if write and new_rows:
        _insert(session, new_rows, options, known, actor)
    return out


def _duplicate(row: ParsedRow, first: int) -> RowProblem:
    return RowProblem(
        row.number,
        row.column("phone"),
        "duplicate_in_file",
        f"the same number as row {first}; this row was skipped",
        error=False,
    )


def _merged_fields(contact: Contact, row: ParsedRow) -> dict[str, Any]:
    """The contact's plain fields once ``row`` is merged into it (what :func:`_merge` writes)."""
    return {
        "name": row.name or contact.name,
        "first_name": row.first_name or contact.first_name,
        # a language the file gave replaces the contact's; the country's default only fills a missing one
        "language": (contact.language or row.language) if row.language_from_country else (
            row.language or contact.language),
        "timezone": contact.timezone or row.timezone,
    }  # fmt: skip


def _consent_step(contact: Contact, row: ParsedRow) -> str:
    """What ``row``'s consent does to the contact: ``opt_out``, ``declined``, ``opt_in``, ``refused`` (an
    import cannot opt a STOP back in) or ``""`` (nothing)."""
    if row.stop and not contact.opted_out:
        return "opt_out"
    if row.consent is False and contact.consent_status != "opted_out":
        return "declined"
    if row.consent is True and contact.opted_out:
        return "refused"
    if row.consent is True and contact.consent_status != "opted_in":
        return "opt_in"
    return ""


def _changes(contact: Contact, row: ParsedRow) -> bool:
    """Whether merging ``row`` changes anything of ``contact`` (lists aside: :func:`_memberships`)."""
    fields = _merged_fields(contact, row)
    attributes = contact.attributes or {}
    return (
        any(getattr(contact, name) != value for name, value in fields.items())
        or any(attributes.get(name) != value for name, value in row.attributes.items())
        or bool(set(row.tags) - set(contact.tags or []))
        or _consent_step(contact, row) in ("opt_out", "declined", "opt_in")
    )


def _memberships(session: Session, contact_ids: list[int], options: ImportOptions) -> dict[int, int]:
    """How many of the import's lists each of these contacts is in already (none asked: nothing read).

    Read by contact (its index), the lists filtered here: a ``list_id`` condition was planned on PostgreSQL
    as a scan of the list's members, every batch reading the members earlier batches had added.
    """
    wanted = set(options.list_ids)
    if not wanted or not contact_ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(ListMembership.contact_id, ListMembership.list_id).where(
            among(ListMembership.contact_id, contact_ids, dialect)
        )
    )
    found: dict[int, int] = {}
    for contact_id, list_id in rows:
        if list_id in wanted:
            found[contact_id] = found.get(contact_id, 0) + 1
    return found


def _merge(session: Session, contact: Contact, row: ParsedRow, known: attrs.Schema, out: BatchOutcome) -> None:
    for name, value in _merged_fields(contact, row).items():
        setattr(contact, name, value)
    if row.attributes:
        contact.attributes = {**(contact.attributes or {}), **row.attributes}
        attrs.reindex(session, contact, known)
    if set(row.tags) - set(contact.tags or []):
        set_tags(session, contact, [*(contact.tags or []), *row.tags])
    step = _consent_step(contact, row)
    if step == "opt_out":
        consent.record_opt_out(session, contact=contact, source="import", proof=row.proof, actor=SYSTEM)
    elif step == "declined":
        consent.record_declined(session, contact=contact, source="import", proof=row.proof, actor=SYSTEM)
    elif step == "refused":
        out.problems.append(
            RowProblem(
                row.number,
                row.column("consent"),
                "opted_out",
                f"contact {contact.id} opted out; an import cannot opt them back in",
                error=False,
            )
        )
    elif step == "opt_in":
        consent.record_opt_in(session, contact=contact, source="import", proof=row.proof, actor=SYSTEM)


def _insert(session: Session, rows: list[ParsedRow], options: ImportOptions, known: attrs.Schema, actor: Actor) -> None:
    now = utcnow()
    values = [
        {
            "phone": r.e164,
            "phone_index": r.index,
            "country": r.country,
            "line_type": r.line_type,
            "name": r.name,
            "first_name": r.first_name,
            "language": r.language,
            "timezone": r.timezone,
            "attributes": r.attributes,
            "tags": r.tags,
            "opted_out": r.stop,
            "consent_status": {True: "opted_in", False: "opted_out", None: "none"}[r.consent],
            "external_ids": {},
            "erased": False,
            "created_at": now,
            "updated_at": now,
        }
        for r in rows
    ]
    # Core (not ORM) bulk inserts: several times faster, and these rows need no identity map
    table = cast(Table, Contact.__table__)
    if session.get_bind().dialect.name == "postgresql":
        # ids drawn first, then a plain executemany: psycopg pipelines one short statement, where
        # INSERT ... RETURNING is sent as one statement of 500 VALUES that psycopg parses anew each batch
        ids = list(session.scalars(_NEXT_CONTACT_IDS, {"n": len(values)}))
        session.execute(insert(table), [{"id": cid, **v} for cid, v in zip(ids, values, strict=True)])
    else:
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = list(session.execute(stmt, values).scalars())
    pairs = list(zip(ids, rows, strict=True))
    tags = [{"contact_id": cid, "tag": t} for cid, r in pairs for t in r.tags]
    index = [v for cid, r in pairs for v in attrs.index_rows(cid, known, r.attributes)]
    ledger = [
        {
            "contact_id": cid,
            "phone_index": r.index,
            "action": "opt_out" if r.stop else "opt_in" if r.consent else "declined",
            "source": "import",
            "proof": r.proof,
            "actor_type": actor.type,
            "actor_id": actor.id,
            "at": now,
        }
        for cid, r in pairs
        if r.consent is not None
    ]
    for model, data in ((ContactTag, tags), (AttributeValue, index), (ConsentEvent, ledger)):
        if data:
            session.execute(insert(cast(Table, model.__table__)), data)
    _join_lists(session, ids, options)


_NEXT_CONTACT_IDS = text("SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, :n)")


def _join_lists(session: Session, contact_ids: list[int], options: ImportOptions) -> None:
    """Add the batch's contacts to the import's lists (``NotFound`` when a list was deleted meanwhile).

    ``INSERT ... ON CONFLICT DO NOTHING`` rather than ``service.add_to_lists``, whose read of the
    existing memberships was planned on PostgreSQL as a scan of the whole list (one list id):
    every batch re-read the members the import had already added.
    """
    wanted = sorted(set(options.list_ids))
    if not wanted or not contact_ids:
        return
    if missing := set(wanted) - set(session.scalars(select(ContactList.id).where(ContactList.id.in_(wanted)))):
        raise NotFound(f"lists not found: {sorted(missing)}")
    table = cast(Table, ListMembership.__table__)
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing(
        index_elements=[table.c.list_id, table.c.contact_id]
    )
    now = utcnow()
    session.execute(
        stmt, [{"list_id": lid, "contact_id": cid, "added_at": now} for lid in wanted for cid in contact_ids]
    )
