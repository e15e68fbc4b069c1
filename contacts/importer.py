"""Contact import: one row parser and one batch writer, shared by every way of importing.

:class:`RowParser` turns a file row into a validated contact (or findings: errors reject the row,
warnings do not); :func:`write_batch` looks a batch up against existing contacts, the suppression
list and the numbers seen earlier in the file, then inserts or merges it. Two drivers use them:
``contacts.import_jobs`` (the background job: each batch its own short transaction, partial
import by default) and :func:`import_file` below (all or nothing inside the caller's transaction,
for the CRM CSV sync).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast

import phonenumbers
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from channels.phone import InvalidPhoneNumber, phone_info
from contacts import attributes as attrs
from contacts import consent
from contacts.import_mapping import ColumnMapping, normalise_header, resolve, targets
from contacts.import_report import ImportFailed, ImportOptions, ImportReport, OnExisting, RowProblem
from contacts.models import AttributeValue, ConsentEvent, Contact, ContactTag, Suppression
from contacts.service import add_to_lists, check_language, check_timezone, clean_tags, get_list, set_tags
from contacts.tabular import FileLimits, inspect, read_rows
from core.audit import SYSTEM, Actor
from core.crypto import blind_index
from core.db import utcnow
from core.errors import ValidationFailed

__all__ = ["ImportFailed", "ImportOptions", "ImportReport", "OnExisting", "RowParser", "import_file", "write_batch"]

BATCH = 1000  # rows per flush of the in-transaction import
_YES = frozenset({"yes", "y", "true", "1", "opted in", "opt in", "oui", "o", "si", "ja", "x", "accepte", "d accord"})
_NO = frozenset({"no", "n", "false", "0", "opted out", "opt out", "non", "nein", "stop", "refuse"})
_LANGUAGE_NAMES = {
    "francais": "fr", "french": "fr", "anglais": "en", "english": "en", "espagnol": "es", "spanish": "es",
    "espanol": "es", "allemand": "de", "german": "de", "deutsch": "de", "italien": "it", "italian": "it",
    "portugais": "pt", "portuguese": "pt", "neerlandais": "nl", "dutch": "nl", "arabe": "ar", "arabic": "ar",
}  # fmt: skip
#: line types that cannot receive SMS (fixed_line_or_mobile can: the plan does not tell them apart)
_NO_SMS = {
    "fixed_line": ("landline", "a landline: it cannot receive SMS"),
    "toll_free": ("not_mobile", "a toll-free number: it cannot receive SMS"),
    "premium_rate": ("not_mobile", "a premium-rate number: it cannot receive SMS"),
    "shared_cost": ("not_mobile", "a shared-cost number: it cannot receive SMS"),
    "uan": ("not_mobile", "a company switchboard number: it cannot receive SMS"),
    "voicemail": ("not_mobile", "a voicemail number: it cannot receive SMS"),
    "pager": ("not_mobile", "a pager number: it cannot receive SMS"),
    "voip": ("voip", "a VoIP number: many cannot receive SMS"),
}


@dataclass
class ParsedRow:
    """A valid row, ready to write; ``cells`` are kept in case the batch rejects it."""

    number: int
    cells: list[str]
    e164: str
    index: str
    country: str
    timezone: str | None
    name: str | None = None
    first_name: str | None = None
    language: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consent: bool | None = None
    proof: str = ""


class RowParser:
    """Validates rows of one file against the mapping resolved from its header.

    Raises (constructor):
        ValidationFailed: too many columns, a bad mapping, no phone column.
    """

    def __init__(self, header: list[str], options: ImportOptions, known: attrs.Schema, limits: FileLimits) -> None:
        if len(header) > limits.max_columns:
            raise ValidationFailed(
                f"the file has {len(header)} columns; imports take at most {limits.max_columns}",
                errors=[{"field": "file"}],
            )
        self.header = [h.strip() for h in header]
        self.options = options
        self.known = known
        self.limits = limits
        self.columns: list[ColumnMapping] = resolve(self.header, options.mapping, known)
        self.targets = targets(self.columns)
        self.column_of = {t: self.header[i] for i, t in self.targets.items()}
        self.common_tags = clean_tags(options.tags)

    @property
    def mapping(self) -> dict[str, str]:
        return {self.header[i]: t for i, t in sorted(self.targets.items())}

    def parse(self, number: int, cells: list[str]) -> tuple[ParsedRow | None, list[RowProblem]]:
        """The row numbered ``number`` (spreadsheet numbering) as a contact, and what is wrong with it."""
        problems: list[RowProblem] = []
        kept = tuple(cells)

        def reject(column: str, code: str, message: str) -> None:
            problems.append(RowProblem(number, column, code, message, cells=kept))

        def warn(column: str, code: str, message: str) -> None:
            problems.append(RowProblem(number, column, code, message, error=False))

        if len(cells) > self.limits.max_columns:
            reject("", "too_many_columns", f"the row has more than {self.limits.max_columns} cells")
            return None, problems
        for i, cell in enumerate(cells):
            if len(cell) > self.limits.max_cell:
                name = self.header[i] if i < len(self.header) else f"column {i + 1}"
                reject(name, "cell_too_long", f"longer than {self.limits.max_cell:,} characters")
        if problems:
            return None, problems
        values = {t: cells[i].strip() if i < len(cells) else "" for i, t in self.targets.items()}
        column = self.column_of
        region = self.options.region
        country = values.get("country", "").upper()
        if country:
            if country in phonenumbers.SUPPORTED_REGIONS:
                region = country
            else:
                warn(
                    column["country"],
                    "country_ignored",
                    "not a two-letter country code (such as FR); the default region is used",
                )
        try:
            info = phone_info(values["phone"], region=region, field=column["phone"])
        except InvalidPhoneNumber as exc:
            reject(column["phone"], "invalid_phone", f"the number {exc.errors[0]['message']}")
            return None, problems
        if info.line_type in _NO_SMS:
            warn(column["phone"], *_NO_SMS[info.line_type])
        row = ParsedRow(
            number=number,
            cells=cells,
            e164=info.e164,
            index=blind_index(info.e164),
            country=info.region or "",
            timezone=info.timezone,
            tags=list(self.common_tags),
            name=values.get("name") or None,
            first_name=values.get("first_name") or None,
        )
        if values.get("language"):
            raw = values["language"]
            try:
                row.language = check_language(_LANGUAGE_NAMES.get(normalise_header(raw), raw), column["language"])
            except ValidationFailed:
                reject(column["language"], "bad_language", "not a language code such as 'fr' or 'pt-BR'")
        if values.get("timezone"):
            try:
                row.timezone = check_timezone(values["timezone"], column["timezone"])
            except ValidationFailed:
                reject(column["timezone"], "bad_timezone", "not an IANA time zone such as 'Europe/Paris'")
        if values.get("tags"):
            try:
                row.tags = clean_tags([*row.tags, *re.split(r"[;,]", values["tags"])])
            except ValidationFailed:
                reject(column["tags"], "bad_tag", "tags are 1-64 letters, digits, spaces or . : / - _")
        for target, raw in values.items():
            if target.startswith("attribute:"):
                definition = self.known[target[10:]]
                try:
                    value = attrs.coerce(definition.type, raw)
                except attrs.BadAttributeValue:
                    reject(
                        column[target],
                        "bad_attribute",
                        f"not a valid {definition.type} for attribute {definition.name}",
                    )
                    continue
                if value is not None:
                    row.attributes[definition.name] = value
        raw_consent = normalise_header(values.get("consent", ""))
        if raw_consent in _YES:
            row.consent = True
        elif raw_consent in _NO:
            row.consent = False
        elif raw_consent:
            reject(column["consent"], "bad_consent", "not yes/no (oui/non)")
        if self.options.require_consent and row.consent is not True and not (raw_consent and row.consent is None):
            reject(
                column.get("consent", "consent"),
                "missing_consent",
                "consent is required for every row (a yes in the consent column)",
            )
        row.proof = values.get("consent_proof") or f"import {self.options.source_name} row {number}"
        return (None if any(p.error for p in problems) else row), problems


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
    skipped: int = 0
    without_consent: int = 0
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
    existing = {c.phone_index: c for c in session.scalars(select(Contact).where(Contact.phone_index.in_(indexes)))}
    suppressed = set(session.scalars(select(Suppression.phone_index).where(Suppression.phone_index.in_(indexes))))
    new_rows: list[ParsedRow] = []
    for row in fresh:
        if row.index in suppressed:
            out.problems.append(
                RowProblem(
                    row.number,
                    "phone",
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
                    "phone",
                    "existing_contact",
                    f"contact {found.id} has this number",
                    cells=tuple(row.cells),
                )
            )
            continue
        elif options.on_existing == "skip":
            out.skipped += 1
            out.problems.append(
                RowProblem(row.number, "phone", "existing_contact", f"skipped: contact {found.id} exists", error=False)
            )
            continue
        else:
            out.updated += 1
            if write:
                _merge(session, found, row, options, known, out)
        if row.consent is None:
            out.without_consent += 1
    out.created = len(new_rows)
    if write and new_rows:
        _insert(session, new_rows, options, known, actor)
    return out


def _duplicate(row: ParsedRow, first: int) -> RowProblem:
    return RowProblem(
        row.number, "phone", "duplicate_in_file", f"the same number as row {first}; this row was skipped", error=False
    )


def _merge(
    session: Session, contact: Contact, row: ParsedRow, options: ImportOptions, known: attrs.Schema, out: BatchOutcome
) -> None:
    contact.name = row.name or contact.name
    contact.first_name = row.first_name or contact.first_name
    contact.language = row.language or contact.language
    contact.timezone = contact.timezone or row.timezone
    if row.attributes:
        contact.attributes = {**(contact.attributes or {}), **row.attributes}
        attrs.reindex(session, contact, known)
    if set(row.tags) - set(contact.tags or []):
        set_tags(session, contact, [*(contact.tags or []), *row.tags])
    if row.consent is False and not contact.opted_out:
        consent.record_opt_out(session, contact=contact, source="import", proof=row.proof, actor=SYSTEM)
    elif row.consent is True and contact.opted_out:
        out.problems.append(
            RowProblem(
                row.number,
                "consent",
                "opted_out",
                f"contact {contact.id} opted out; an import cannot opt them back in",
                error=False,
            )
        )
    elif row.consent is True and contact.consent_status != "opted_in":
        consent.record_opt_in(session, contact=contact, source="import", proof=row.proof, actor=SYSTEM)
    add_to_lists(session, contact_ids=[contact.id], list_ids=options.list_ids)


def _insert(session: Session, rows: list[ParsedRow], options: ImportOptions, known: attrs.Schema, actor: Actor) -> None:
    now = utcnow()
    values = [
        {
            "phone": r.e164,
            "phone_index": r.index,
            "country": r.country,
            "name": r.name,
            "first_name": r.first_name,
            "language": r.language,
            "timezone": r.timezone,
            "attributes": r.attributes,
            "tags": r.tags,
            "opted_out": r.consent is False,
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
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = list(session.execute(stmt, values).scalars())
    pairs = list(zip(ids, rows, strict=True))
    tags = [{"contact_id": cid, "tag": t} for cid, r in pairs for t in r.tags]
    index = [v for cid, r in pairs for v in attrs.index_rows(cid, known, r.attributes)]
    ledger = [
        {
            "contact_id": cid,
            "phone_index": r.index,
            "action": "opt_in" if r.consent else "opt_out",
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
    add_to_lists(session, contact_ids=ids, list_ids=options.list_ids)


def numbered_rows(rows: Iterator[list[str]], limits: FileLimits) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their spreadsheet row number (header = 1), blank rows left out.

    Raises:
        ValidationFailed: more data rows than ``limits.max_rows``.
    """
    for number, cells in enumerate(rows, start=2):
        if number - 1 > limits.max_rows:
            raise ValidationFailed(f"the file has more than {limits.max_rows:,} rows", errors=[{"field": "file"}])
        if any(c.strip() for c in cells):
            yield number, cells


def first_row(rows: Iterator[list[str]]) -> list[str]:
    """The header row; ``ValidationFailed`` for a file without one."""
    try:
        header = next(rows)
    except StopIteration:
        header = []
    if not any(h.strip() for h in header):
        raise ValidationFailed(
            "the file is empty: expected a header row naming the columns", errors=[{"field": "file"}]
        )
    return header


def import_file(
    session: Session,
    binary: IO[bytes],
    options: ImportOptions,
    *,
    filename: str = "",
    actor: Actor = SYSTEM,
    limits: FileLimits | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV or XLSX file all or nothing inside ``session`` (the caller commits).

    For automated feeds (the CRM CSV sync); people's uploads go through ``contacts.import_jobs``.
    Once a row is rejected writing stops, validation goes on so the report is complete, and
    :class:`ImportFailed` is raised at the end for the caller to roll back.

    Raises:
        ImportFailed: some rows are invalid (the report is attached).
        ValidationFailed / PayloadTooLarge: a bad mapping, no phone column, an empty, malformed or
            oversized file.
    """
    limits = limits or FileLimits()
    for list_id in options.list_ids:
        get_list(session, list_id)  # NotFound before reading the file
    shape = inspect(binary, filename, limits)
    rows = read_rows(binary, shape, limits)
    known = attrs.schema(session)
    parser = RowParser(first_row(rows), options, known, limits)
    report = ImportReport(dry_run=options.dry_run, mapping=parser.mapping)
    seen = MemorySeen()
    batch: list[ParsedRow] = []

    def flush() -> None:
        outcome = write_batch(
            session, batch, options=options, known=known, seen=seen, actor=actor,
            write=not options.dry_run and report.error_count == 0,
        )  # fmt: skip
        for problem in outcome.problems:
            report.add(problem)
        report.created += outcome.created
        report.updated += outcome.updated
        report.skipped += outcome.skipped
        report.without_consent += outcome.without_consent
        batch.clear()
        if progress:
            progress(report.rows)

    for number, cells in numbered_rows(rows, limits):
        report.rows += 1
        row, problems = parser.parse(number, cells)
        for problem in problems:
            report.add(problem)
        if row is not None:
            batch.append(row)
        if len(batch) >= BATCH:
            flush()
    flush()
    if report.rows == 0:
        raise ValidationFailed("the file has a header but no data rows", errors=[{"field": "file"}])
    if report.error_count:
        raise ImportFailed(report)
    session.flush()
    report.committed = not options.dry_run
    return report
