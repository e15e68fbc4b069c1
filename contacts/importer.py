"""Contact import from CSV/XLSX: column mapping, a row-by-row report, all or nothing.

Rows are validated and written in batches of 1,000 inside the caller's transaction; once a row
fails, writing stops (validation goes on so the report is complete) and :class:`ImportFailed` is
raised at the end, so the caller's rollback leaves nothing half-imported. ``dry_run`` validates
without writing. Memory stays bounded by the batch plus one 32-byte digest per row (duplicate
detection within the file).

Mapping (``{"File column": target}``) targets: ``phone``, ``name``, ``first_name``, ``language``,
``timezone``, ``tags`` (``;`` or ``,`` separated), ``consent`` (yes/no), ``consent_proof``,
``attribute:<name>`` (a declared attribute), ``ignore``. Without a mapping, columns whose
(normalised) header is a target name or a declared attribute map to it, others are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from channels.phone import InvalidPhoneNumber, phone_info
from contacts import attributes as attrs
from contacts import consent
from contacts.import_report import ImportFailed, ImportOptions, ImportReport, OnExisting, RowProblem
from contacts.models import AttributeValue, ConsentEvent, Contact, ContactTag, Suppression
from contacts.service import add_to_lists, check_language, check_timezone, clean_tags, get_list, set_tags
from contacts.tabular import csv_rows, is_xlsx, xlsx_rows
from core.audit import SYSTEM, Actor
from core.crypto import blind_index
from core.db import utcnow
from core.errors import ValidationFailed

__all__ = ["ImportFailed", "ImportOptions", "ImportReport", "OnExisting", "import_file", "import_rows"]

BATCH = 1000
FIELDS = ("phone", "name", "first_name", "language", "timezone", "tags", "consent", "consent_proof")
_YES = frozenset({"yes", "y", "true", "1", "opted_in", "opt_in", "oui", "si", "sí", "ja", "x"})
_NO = frozenset({"no", "n", "false", "0", "opted_out", "opt_out", "non", "nein", "stop"})


@dataclass
class _Row:
    number: int
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


def _normalise_header(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def resolve_mapping(
    header: list[str], mapping: Mapping[str, str] | None, known: attrs.Schema
) -> dict[int, str]:
    """Column position → target. Raises ``ValidationFailed`` for a bad mapping or no phone column."""
    targets: dict[int, str] = {}
    if mapping is None:
        for i, name in enumerate(header):
            key = _normalise_header(name)
            if key in FIELDS:
                targets[i] = key
            elif key in known:
                targets[i] = f"attribute:{key}"
    else:
        positions = {name.strip(): i for i, name in enumerate(header)}
        errors = []
        for column, target in mapping.items():
            if column.strip() not in positions:
                errors.append({"field": f"mapping.{column}", "message": "no such column in the file"})
            elif target.startswith("attribute:") and target.split(":", 1)[1] not in known:
                errors.append(
                    {"field": f"mapping.{column}", "message": f"attribute {target[10:]!r} is not defined"}
                )
            elif not target.startswith("attribute:") and target not in (*FIELDS, "ignore"):
                errors.append(
                    {
                        "field": f"mapping.{column}",
                        "message": f"target must be one of {', '.join(FIELDS)}, attribute:<name>, ignore",
                    }
                )
            elif target != "ignore":
                targets[positions[column.strip()]] = target
        if errors:
            raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    duplicates = sorted({t for t in targets.values() if list(targets.values()).count(t) > 1})
    if duplicates:
        raise ValidationFailed(
            f"several columns map to {', '.join(duplicates)}", errors=[{"field": "mapping"}]
        )
    if "phone" not in targets.values():
        raise ValidationFailed(
            "no column maps to phone (name one 'phone' or pass a mapping)", errors=[{"field": "mapping"}]
        )
    return targets


class _Importer:
    def __init__(self, session: Session, options: ImportOptions, actor: Actor) -> None:
        self.session = session
        self.options = options
        self.actor = actor
        self.report = ImportReport(dry_run=options.dry_run)
        self.known = attrs.schema(session)
        self.seen: set[bytes] = set()
        self.batch: list[_Row] = []
        self.common_tags = clean_tags(options.tags)
        self.header: list[str] = []
        self.targets: dict[int, str] = {}

    @property
    def writing(self) -> bool:
        return not self.options.dry_run and self.report.error_count == 0

    def problem(self, row: int, column: str, code: str, message: str, *, error: bool = True) -> None:
        self.report.add(RowProblem(row, column, code, message), error=error)

    def parse(self, number: int, cells: list[str]) -> _Row | None:
        values: dict[str, str] = {}
        for i, target in self.targets.items():
            values[target] = cells[i].strip() if i < len(cells) else ""
        column = {t: self.header[i] for i, t in self.targets.items()}
        failed = False
        try:
            info = phone_info(values["phone"], region=self.options.region, field=column["phone"])
        except InvalidPhoneNumber as exc:
            self.problem(number, column["phone"], "invalid_phone", exc.detail)
            return None
        digest = bytes.fromhex(blind_index(info.e164))
        if digest in self.seen:
            self.problem(
                number, column["phone"], "duplicate_in_file", f"{info.e164[:-4]}**** appears earlier"
            )
            return None
        self.seen.add(digest)
        row = _Row(
            number=number,
            e164=info.e164,
            index=digest.hex(),
            country=info.region or "",
            timezone=info.timezone,
            tags=list(self.common_tags),
        )
        row.name = values.get("name") or None
        row.first_name = values.get("first_name") or None
        for name, check in (("language", check_language), ("timezone", check_timezone)):
            if values.get(name):
                try:
                    setattr(row, name, check(values[name], column[name]))
                except ValidationFailed as exc:
                    self.problem(number, column[name], f"bad_{name}", exc.detail)
                    failed = True
        if values.get("tags"):
            try:
                row.tags = clean_tags([*row.tags, *re.split(r"[;,]", values["tags"])])
            except ValidationFailed as exc:
                self.problem(number, column["tags"], "bad_tag", exc.detail)
                failed = True
        for target, raw in values.items():
            if target.startswith("attribute:"):
                definition = self.known[target[10:]]
                try:
                    value = attrs.coerce(definition.type, raw)
                except attrs.BadAttributeValue as exc:
                    self.problem(number, column[target], "bad_attribute", f"{definition.name}: {exc}")
                    failed = True
                    continue
                if value is not None:
                    row.attributes[definition.name] = value
        raw_consent = values.get("consent", "").lower()
        if raw_consent in _YES:
            row.consent = True
        elif raw_consent in _NO:
            row.consent = False
        elif raw_consent:
            self.problem(number, column["consent"], "bad_consent", f"{raw_consent!r} is not yes/no")
            failed = True
        if self.options.require_consent and row.consent is not True:
            self.problem(
                number,
                column.get("consent", "consent"),
                "missing_consent",
                "consent is required for every row (a yes in the consent column)",
            )
            failed = True
        row.proof = values.get("consent_proof") or f"import {self.options.source_name} row {number}"
        return None if failed else row

    def flush_batch(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        indexes = [r.index for r in batch]
        existing = {
            c.phone_index: c
            for c in self.session.scalars(select(Contact).where(Contact.phone_index.in_(indexes)))
        }
        suppressed = set(
            self.session.scalars(select(Suppression.phone_index).where(Suppression.phone_index.in_(indexes)))
        )
        new_rows: list[_Row] = []
        for row in batch:
            if row.index in suppressed:
                self.problem(
                    row.number,
                    "phone",
                    "suppressed",
                    "number is on the suppression list; it will not be texted",
                    error=False,
                )
            found = existing.get(row.index)
            if found is None:
                new_rows.append(row)
            elif self.options.on_existing == "error":
                self.problem(row.number, "phone", "existing_contact", f"contact {found.id} has this number")
            elif self.options.on_existing == "skip":
                self.report.skipped += 1
                self.problem(
                    row.number,
                    "phone",
                    "existing_contact",
                    f"skipped: contact {found.id} exists",
                    error=False,
                )
            else:
                self.merge(found, row)
        if self.writing and new_rows:
            self.insert(new_rows)
        else:  # a dry run (or a failed import) reports what would have been created
            self.report.created += len(new_rows)

    def merge(self, contact: Contact, row: _Row) -> None:
        self.report.updated += 1
        if not self.writing:
            return
        contact.name = row.name or contact.name
        contact.first_name = row.first_name or contact.first_name
        contact.language = row.language or contact.language
        contact.timezone = contact.timezone or row.timezone
        if row.attributes:
            contact.attributes = {**(contact.attributes or {}), **row.attributes}
            attrs.reindex(self.session, contact, self.known)
        if set(row.tags) - set(contact.tags or []):
            set_tags(self.session, contact, [*(contact.tags or []), *row.tags])
        if row.consent is False and not contact.opted_out:
            consent.record_opt_out(
                self.session, contact=contact, source="import", proof=row.proof, actor=SYSTEM
            )
        elif row.consent is True and contact.opted_out:
            self.problem(
                row.number,
                "consent",
                "opted_out",
                f"contact {contact.id} opted out; an import cannot opt them back in",
                error=False,
            )
        elif row.consent is True and contact.consent_status != "opted_in":
            consent.record_opt_in(
                self.session, contact=contact, source="import", proof=row.proof, actor=SYSTEM
            )
        add_to_lists(self.session, contact_ids=[contact.id], list_ids=self.options.list_ids)

    def insert(self, rows: list[_Row]) -> None:
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
        ids = list(self.session.execute(stmt, values).scalars())
        tags = [{"contact_id": cid, "tag": t} for cid, r in zip(ids, rows, strict=True) for t in r.tags]
        index = [
            v
            for cid, r in zip(ids, rows, strict=True)
            for v in attrs.index_rows(cid, self.known, r.attributes)
        ]
        ledger = [
            {
                "contact_id": cid,
                "phone_index": r.index,
                "action": "opt_in" if r.consent else "opt_out",
                "source": "import",
                "proof": r.proof,
                "actor_type": self.actor.type,
                "actor_id": self.actor.id,
                "at": now,
            }
            for cid, r in zip(ids, rows, strict=True)
            if r.consent is not None
        ]
        for model, data in ((ContactTag, tags), (AttributeValue, index), (ConsentEvent, ledger)):
            if data:
                self.session.execute(insert(cast(Table, model.__table__)), data)
        add_to_lists(self.session, contact_ids=ids, list_ids=self.options.list_ids)
        self.report.created += len(ids)

    def run(self, rows: Iterator[list[str]], progress: Callable[[int], None] | None) -> ImportReport:
        try:
            self.header = [h.strip() for h in next(rows)]
        except StopIteration:
            raise ValidationFailed("the file is empty: expected a header row naming the columns") from None
        self.targets = resolve_mapping(self.header, self.options.mapping, self.known)
        self.report.mapping = {self.header[i]: t for i, t in sorted(self.targets.items())}
        for number, cells in enumerate(rows, start=1):
            if not any(c.strip() for c in cells):
                continue
            self.report.rows += 1
            row = self.parse(number, cells)
            if row is not None:
                self.batch.append(row)
            if len(self.batch) >= BATCH:
                self.flush_batch()
                if progress:
                    progress(self.report.rows)
        self.flush_batch()
        if progress:
            progress(self.report.rows)
        if self.report.rows == 0:
            raise ValidationFailed("the file has a header but no data rows")
        if self.report.error_count:
            raise ImportFailed(self.report)
        self.session.flush()
        self.report.committed = not self.options.dry_run
        return self.report


def import_rows(
    session: Session,
    rows: Iterable[list[str]],
    options: ImportOptions,
    *,
    actor: Actor = SYSTEM,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows (header first). Returns the report; the caller commits (or not, on dry runs).

    Raises:
        ImportFailed: some rows are invalid (the report is attached); the caller must roll back.
        ValidationFailed: a bad mapping, no phone column, an empty or malformed file.
    """
    for list_id in options.list_ids:
        get_list(session, list_id)  # NotFound before reading the file
    return _Importer(session, options, actor).run(iter(rows), progress)


def import_file(
    session: Session,
    binary: IO[bytes],
    options: ImportOptions,
    *,
    filename: str = "",
    actor: Actor = SYSTEM,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """:func:`import_rows` over a CSV or XLSX file (detected from its name or first bytes)."""
    rows = xlsx_rows(binary) if is_xlsx(binary, filename) else csv_rows(binary)
    return import_rows(session, rows, options, actor=actor, progress=progress)
