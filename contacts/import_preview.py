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

from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.import_mapping import resolve
from contacts.import_report import ImportOptions, RowProblem
from contacts.importer import MemorySeen, ParsedRow, RowParser, first_row, numbered_rows, write_batch
from contacts.tabular import FileLimits, inspect, read_rows
from core.errors import ValidationFailed

SAMPLE_ROWS = 20
#: warnings whose row is not imported: it records no consent
SKIPPED = ("duplicate_in_file", "existing_contact")


@dataclass
class PreviewRow:
    row: int  # spreadsheet numbering: header = 1
    cells: list[str]
    values: dict[str, str] = field(default_factory=dict)  # target → cell
    problems: list[RowProblem] = field(default_factory=list)
    consent: bool | None = None  # what the row records: opt-in, opt-out, or nothing

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
            "skipped": self.skipped,
        }

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
    rows = read_rows(binary, shape, limits)
    header = first_row(rows)
    known = attrs.schema(session)
    first = list(islice(numbered_rows(rows, limits), sample))
    result: dict[str, Any] = {
        "format": shape.format,
        "encoding": shape.encoding,
        "delimiter": shape.delimiter,
        "rows_estimate": shape.rows_estimate,
        "header": header,
        "ready": True,
        "problem": "",
        "consent_notice": None,
    }
    try:
        parser = RowParser(header, options, known, limits)
    except ValidationFailed as exc:
        if not any(e.get("message") == "no phone column" for e in exc.errors):
            raise
        columns = resolve(header, options.mapping, known, require_phone=False)
        result.update(ready=False, problem=exc.detail, columns=[c.as_dict() for c in columns])
        result["rows"] = [PreviewRow(n, cells).as_dict() for n, cells in first]
        return result
    previews: list[PreviewRow] = []
    valid: list[ParsedRow] = []
    for number, cells in first:
        row, problems = parser.parse(number, cells)
        values = {t: cells[i].strip() for i, t in parser.targets.items() if i < len(cells)}
        previews.append(PreviewRow(number, cells, values, problems, row.consent if row else None))
        if row is not None:
            valid.append(row)
    outcome = write_batch(session, valid, options=options, known=known, seen=MemorySeen(), write=False)
    by_row = {p.row: p for p in previews}
    for problem in outcome.problems:
        by_row[problem.row].problems.append(problem)
    result["columns"] = [c.as_dict() for c in parser.columns]
    result["rows"] = [p.as_dict() for p in previews]
    # said before the import, not only in its report: these rows' contacts get no marketing texts
    result["consent_notice"] = consent.marketing_consent_warning(outcome.without_consent)
    return result
