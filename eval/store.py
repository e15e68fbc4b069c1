"""The reports written under ``<data_dir>/reports/<suite>/<timestamp>/``: listing, trends, reading.

A report's id is ``<suite>/<timestamp>`` (its folder relative to the reports folder). Trends
compare each report's headline figures with the previous report of the same suite.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NotFound
from core.settings import Settings
from eval.compare import compare
from eval.paths import reports_dir

_ID_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ReportEntry:
    """One stored report: id, suite, when, whether it met its thresholds, its summary and trend."""

    id: str
    suite: str
    created_at: str
    passed: bool
    summary: dict[str, Any]
    trend: dict[str, float] = field(default_factory=dict)  # summary figure -> change since the previous run
    regressions: list[str] = field(default_factory=list)


def _folder(settings: Settings, report_id: str) -> Path:
    parts = report_id.split("/")
    if len(parts) != 2 or not all(_ID_PART.match(p) and p not in (".", "..") for p in parts):
        raise NotFound(f"no report {report_id!r}")
    folder = reports_dir(settings) / parts[0] / parts[1]
    if not (folder / "report.json").is_file():
        raise NotFound(f"no report {report_id!r}")
    return folder


def read_report(settings: Settings, report_id: str) -> dict[str, Any]:
    """The ``report.json`` of ``report_id``; raises ``NotFound``."""
    data: dict[str, Any] = json.loads((_folder(settings, report_id) / "report.json").read_text(encoding="utf-8"))
    return data


def report_html(settings: Settings, report_id: str) -> str:
    """The ``report.html`` of ``report_id``; raises ``NotFound``."""
    path = _folder(settings, report_id) / "report.html"
    if not path.is_file():
        raise NotFound(f"report {report_id!r} has no HTML page")
    return path.read_text(encoding="utf-8")


def list_reports(settings: Settings, suite: str | None = None) -> list[ReportEntry]:
    """Every stored report (of ``suite``), newest first, each with its change since the previous run."""
    root = reports_dir(settings)
    entries: list[ReportEntry] = []
    if not root.is_dir():
        return entries
    for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if suite is not None and suite_dir.name != suite:
            continue
        previous: dict[str, Any] | None = None
        for folder in sorted(p for p in suite_dir.iterdir() if (p / "report.json").is_file()):
            try:
                body = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a report being written, or damaged: not listed
            changes = compare(previous, body) if previous is not None else []
            entries.append(ReportEntry(
                id=f"{suite_dir.name}/{folder.name}", suite=str(body.get("suite", suite_dir.name)),
                created_at=str(body.get("created_at", "")), passed=bool(body.get("passed", True)),
                summary=dict(body.get("summary", {})), trend={c.metric: c.delta for c in changes},
                regressions=[c.metric for c in changes if c.regression],
            ))
            previous = body
    return sorted(entries, key=lambda e: (e.created_at, e.id), reverse=True)
