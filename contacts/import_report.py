"""The options, row findings and report of a contact import (see ``contacts.importer``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.errors import ValidationFailed
from core.words import counted

MAX_REPORTED = 1000
OnExisting = Literal["merge", "skip", "error"]


@dataclass(frozen=True)
class ImportOptions:
    mapping: Mapping[str, str] | None = None  # overrides of the automatic column mapping
    on_existing: OnExisting = "merge"
    require_consent: bool = False
    dry_run: bool = False
    strict: bool = False  # all or nothing: one invalid row and nothing is imported
    region: str | None = None  # for national-format numbers (Settings.default_region)
    list_ids: tuple[int, ...] = ()  # every imported contact joins these lists
    tags: tuple[str, ...] = ()  # every imported contact gets these tags
    source_name: str = "upload"  # shown in consent proofs: "import upload row 12"
    #: a row without a language gets its number's country's main language where one language is the norm
    #: (``contacts.importer.MAIN_LANGUAGE``); the marketer ticks it after the preview said how many lack one
    language_from_country: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (stored with an import job); :meth:`from_json` reverses it."""
        data = asdict(self)
        data["mapping"] = dict(self.mapping) if self.mapping is not None else None
        data["list_ids"], data["tags"] = list(self.list_ids), list(self.tags)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportOptions:
        values = dict(data)
        values["list_ids"] = tuple(values.get("list_ids") or ())
        values["tags"] = tuple(values.get("tags") or ())
        return cls(**values)


@dataclass(frozen=True)
class RowProblem:
    """A finding about one row. ``row`` is the spreadsheet's row number: header = 1, data from 2.

    Errors reject the row (``cells`` keeps it for the rejected-rows file); warnings do not.
    ``message`` never repeats a cell's value (reports are shown and stored apart from the data).
    """

    row: int
    column: str
    code: str  # invalid_phone, cell_too_long, existing_contact, missing_consent, landline, duplicate_in_file, ...
    message: str
    error: bool = True
    cells: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.column, "code": self.code, "message": self.message}


@dataclass
class ParsedRow:
    """A valid row, ready to write; ``cells`` are kept in case the batch rejects it."""

    number: int
    cells: list[str]
    e164: str
    index: str
    country: str
    timezone: str | None
    line_type: str | None = None
    name: str | None = None
    first_name: str | None = None
    language: str | None = None
    language_from_country: bool = False  # ``language`` is the country's main language, the file gave none
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consent: bool | None = None  # marketing consent: yes, no (declined), or nothing said
    stop: bool = False  # the file says the person opted out of every text (STOP), not only of marketing
    proof: str = ""
    #: the file's header of each field (shared with the parser), so the batch's findings name the
    #: column as the person wrote it ("Téléphone"), like the parser's own
    columns: dict[str, str] = field(default_factory=dict, repr=False)

    def column(self, target: str) -> str:
        """The header of the column that fed ``target`` (the field's name when none did)."""
        return self.columns.get(target, target)


@dataclass
class ImportReport:
    """What an in-transaction import (:func:`contacts.importer.import_file`) did or would do."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # existing contacts the file changed nothing of
    skipped: int = 0
    error_count: int = 0
    without_consent: int = 0
    errors: list[RowProblem] = field(default_factory=list)  # the first MAX_REPORTED
    warnings: list[RowProblem] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    committed: bool = False

    def add(self, problem: RowProblem) -> None:
        if problem.error:
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED:
                self.errors.append(problem)
        elif len(self.warnings) < MAX_REPORTED:
            self.warnings.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
            "mapping": self.mapping,
            "dry_run": self.dry_run,
            "committed": self.committed,
        }


class ImportFailed(ValidationFailed):
    """Some rows are invalid in an all-or-nothing import; nothing was imported. ``report`` holds the findings."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"{counted(report.error_count, 'problem')} in {counted(report.rows, 'row')}; nothing was imported",
            errors=[e.as_dict() for e in report.errors],
        )
        self.report = report
