"""The options and the row-by-row report of a contact import (see ``contacts.importer``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import ValidationFailed

MAX_REPORTED = 1000
OnExisting = Literal["merge", "skip", "error"]


@dataclass(frozen=True)
class ImportOptions:
    mapping: Mapping[str, str] | None = None
    on_existing: OnExisting = "merge"
    require_consent: bool = False
    dry_run: bool = False
    region: str | None = None  # for national-format numbers (Settings.default_region)
    list_ids: tuple[int, ...] = ()  # every imported contact joins these lists
    tags: tuple[str, ...] = ()  # every imported contact gets these tags
    source_name: str = "upload"  # shown in consent proofs: "import upload row 12"


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row (the header is row 0)
    column: str
    code: str  # invalid_phone, duplicate_in_file, existing_contact, missing_consent, bad_attribute, ...
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.column, "code": self.code, "message": self.message}


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[RowProblem] = field(default_factory=list)  # the first MAX_REPORTED
    warnings: list[RowProblem] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    committed: bool = False

    def add(self, problem: RowProblem, *, error: bool = True) -> None:
        if error:
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
            "skipped": self.skipped,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
            "mapping": self.mapping,
            "dry_run": self.dry_run,
            "committed": self.committed,
        }


class ImportFailed(ValidationFailed):
    """Some rows are invalid; nothing was imported. ``report`` holds the row-by-row findings."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"{report.error_count} of {report.rows} rows are invalid; nothing was imported",
            errors=[e.as_dict() for e in report.errors],
        )
        self.report = report
