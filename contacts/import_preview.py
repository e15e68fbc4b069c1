"""What an import would do with a file, before it runs: the import wizard's mapping step.

Reads only the first rows, writes nothing: the detected format, encoding and delimiter, every
column with the field it maps to (and why), and the first rows validated exactly as the import
would (the same parser and batch checks: existing contacts, suppressions, duplicates), each with
the consent it records and, for those that record none, the import report's consent notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from babel import Locale
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.file_head import FileHead
from contacts.file_limits import FileLimits
from contacts.import_mapping import header_with_phone, resolve
from contacts.import_report import ImportOptions, RowProblem
from contacts.importer import MAIN_LANGUAGE, MemorySeen, ParsedRow, RowParser, numbered_rows, write_batch
from contacts.tabular import FileShape, Table, inspect, read_table
from core.errors import ValidationFailed

SAMPLE_ROWS = 20
#: warnings whose row is not imported: it records no consent
SKIPPED = ("duplicate_in_file", "existing_contact")
#: an existing contact's consent, kept when its row records none (``BatchOutcome.kept``)
KEPT_WORDS = {
    "opted_in": "opt-in",
    "pending": "opt-in not confirmed",
    "opted_out": "no marketing consent",
    "stop": "opted out (STOP)",
    "none": "none, no marketing texts",
}


@dataclass
class PreviewRow:
    row: int  # spreadsheet numbering: header = 1
    cells: list[str]
    values: dict[str, str] = field(default_factory=dict)  # target → cell
    problems: list[RowProblem] = field(default_factory=list)
    consent: bool | None = None  # what the row records: opt-in, no marketing consent, or nothing
    stop: bool = False  # the row records a STOP: no texts at all
    kept: str | None = None  # an existing contact's consent the row leaves as it is (``BatchOutcome.kept``)

    @property
    def status(self) -> str:
        if any(p.error for p in self.problems):
            return "rejected"
        return "warning" if self.problems else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "status": self.status,
            "cells": self.cells,
            "values": self.values,
            "problems": [{**p.as_dict(), "severity": "error" if p.error else "warning"} for p in self.problems],
            "consent": None if self.status == "rejected" or self.skipped else self.consent,
            "consent_text": self.consent_text,
            "skipped": self.skipped,
        }

    @property
    def consent_text(self) -> str:
        """What the import will do to the row's consent, in words ("" for a row it does not import)."""
        if self.status == "rejected" or self.skipped:
            return ""
        if self.stop:
            return "opt-out (STOP): no texts at all"
        if self.consent is not None:
            return "opt-in" if self.consent else "no marketing consent"
        if self.kept is not None:
            return f"kept: {KEPT_WORDS.get(self.kept, self.kept)} (existing contact)"
        return "none: no marketing texts"

    @property
    def skipped(self) -> bool:
        """A row the import leaves out without rejecting it (a duplicate, an existing contact skipped)."""
        return any(p.code in SKIPPED for p in self.problems if not p.error)


def preview(
    session: Session,
    binary: IO[bytes],
    *,
    filename: str,
    options: ImportOptions,
    limits: FileLimits,
    sample: int = SAMPLE_ROWS,
) -> dict[str, Any]:
    """The wizard's view of a file; the stream is left where it was read to.

    A file whose header maps no column to ``phone`` still previews (``ready`` false, ``problem``
    says why) so the person can pick the column; other mapping errors raise.

    Raises:
        PayloadTooLarge / ValidationFailed: as :func:`contacts.tabular.inspect`, a bad mapping.
    """
    shape = inspect(binary, filename, limits)
    table = read_table(binary, shape, limits, header_with_phone(options.mapping))
    return preview_table(session, shape, table, options=options, limits=limits, sample=sample)


def preview_head(
    session: Session, head: FileHead, *, options: ImportOptions, limits: FileLimits, sample: int = SAMPLE_ROWS
) -> dict[str, Any]:
    """:func:`preview` of the file ``head`` was read from (``contacts.file_head.read``), without reading the file.

    Raises:
        NotInHead: these options need rows the head does not hold: read the file (:func:`preview_table`).
        ValidationFailed: a bad mapping.
    """
    table = head.table(limits, header_with_phone(options.mapping))
    return preview_table(session, head.shape, table, options=options, limits=limits, sample=sample)


def preview_table(
    session: Session,
    shape: FileShape,
    table: Table,
    *,
    options: ImportOptions,
    limits: FileLimits,
    sample: int = SAMPLE_ROWS,
) -> dict[str, Any]:
    """:func:`preview` of a file of ``shape`` whose data is ``table`` (``contacts.tabular.read_table``)."""
    header = table.header
    known = attrs.schema(session)
    first = list(islice(numbered_rows(table.rows, limits, start=table.header_row + 1), sample))
    result: dict[str, Any] = {
        "format": shape.format,
        "encoding": shape.encoding,
        "delimiter": shape.delimiter,
        "rows_estimate": shape.rows_estimate,
        "header": header,
        "header_row": table.header_row,
        "sheet": table.sheet,
        "sheets": list(table.sheets),
        "notes": table.notes(),  # which sheet and rows are read, in words
        "ready": True,
        "problem": "",
        "consent_notice": None,
        "language_notice": None,
        "language_from_country": options.language_from_country,
    }
    try:
        parser = RowParser(header, options, known, limits, hidden=table.hidden)
    except ValidationFailed as exc:
        if not any(e.get("message") == "no phone column" for e in exc.errors):
            raise
        columns = resolve(header, options.mapping, known, require_phone=False, hidden=table.hidden)
        result.update(ready=False, problem=exc.detail, columns=[c.as_dict() for c in columns])
        result["rows"] = [PreviewRow(n, cells).as_dict() for n, cells in first]
        return result
    previews: list[PreviewRow] = []
    valid: list[ParsedRow] = []
    for number, cells in first:
        row, problems = parser.parse(number, cells)
        read = parser.values(cells)  # the phone is the row's mobile where the file types its numbers
        values = {t: read[t] for i, t in parser.targets.items() if i < len(cells)}
        previews.append(PreviewRow(number, cells, values, problems, row.consent if row else None,
                                   stop=row.stop if row else False))
        if row is not None:
            valid.append(row)
    outcome = write_batch(session, valid, options=options, known=known, seen=MemorySeen(), write=False)
    by_row = {p.row: p for p in previews}
    for problem in outcome.problems:
        by_row[problem.row].problems.append(problem)
    for number, status in outcome.kept.items():
        by_row[number].kept = status
    result["columns"] = [c.as_dict() for c in parser.columns]
    result["rows"] = [p.as_dict() for p in previews]
    # said before the import, not only in its report: these rows' contacts get no marketing texts
    result["consent_notice"] = consent.marketing_consent_warning(outcome.without_consent)
    imported = [r for r in valid if not by_row[r.number].skipped and by_row[r.number].status != "rejected"
                and r.number not in outcome.with_language]  # an existing contact's language is kept
    result["language_notice"] = language_notice(imported, len(first), options.language_from_country)
    return result


def language_notice(rows: list[ParsedRow], shown: int, applied: bool) -> str | None:
    """What happens to the contacts of ``rows`` (the first ``shown`` rows' imported ones, less existing contacts
    that have a language) left without one; None when there are none.

    A file without a language column imported contacts with none, silently: a "language = fr" segment then
    left them out. Said before the import, with the countries' main languages offered (and, ``applied``, what
    was given), and the multilingual countries named as staying without one: no guess there.
    """
    missing = [r for r in rows if r.language is None or r.language_from_country]
    if not missing:
        return None
    english = Locale("en")
    counts: dict[str, int] = {}
    for row in missing:
        counts[row.country] = counts.get(row.country, 0) + 1
    named = {c: str(english.territories.get(c, c or "unknown country")) for c in counts}
    by_country = ", ".join(f"{named[c]} {n}" for c, n in sorted(counts.items(), key=lambda item: -item[1]))
    leave = "leaves its contact" if len(missing) == 1 else "leave their contacts"
    first = f"{len(missing)} of the first {shown} rows {leave} without a language ({by_country}): "
    guessed = {c: n for c, n in counts.items() if c in MAIN_LANGUAGE}
    others = [named[c] for c in counts if c not in MAIN_LANGUAGE]
    language = {c: str(english.languages.get(MAIN_LANGUAGE[c], MAIN_LANGUAGE[c])) for c in guessed}
    given = ", ".join(f"{language[c]} for {named[c]} ({n})" for c, n in guessed.items())
    rest = f" {', '.join(others)}: several languages or none known, so no language is guessed." if others else ""
    if applied and guessed:
        return f"{first}each gets its country's main language: {given}.{rest}"
    offer = f" Tick “Use the country's main language” to give {given}." if guessed else ""
    return f"{first}a segment on language (such as “language = fr”) leaves them out.{offer}{rest}"
