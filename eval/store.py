"""The reports ``relais eval run`` publishes to the database (``eval.models.EvalReport``): listing, trends, reading.

A report's id is ``<suite>/<UTC stamp>``. Trends compare each report's headline figures with the previous
report of the same suite. The database is the store every API host shares; the folder the run also writes
(``report.json``, ``report.html``) is the run's artefact, not what the console reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from eval.compare import compare
from eval.models import EvalReport
from eval.report import Report, render


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


def publish(session: Session, report: Report, at: datetime | None = None) -> str:
    """Store one run's ``report.json`` body and HTML page; returns its id (a second run in the same second of
    the same suite gets ``-2``, ``-3``…, as report folders do)."""
    body, html = render(report)
    suite = report.suite
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    report_id, n = f"{suite}/{stamp}", 1
    while session.get(EvalReport, report_id) is not None:
        n += 1
        report_id = f"{suite}/{stamp}-{n}"
    session.add(EvalReport(
        id=report_id, suite=suite, created_at=str(body.get("created_at", "")), passed=bool(body.get("passed", True)),
        summary=dict(body.get("summary", {})), body=json.dumps(body, ensure_ascii=False, default=str), html=html,
    ))  # fmt: skip
    session.flush()
    return report_id


def _stored(session: Session, report_id: str) -> EvalReport:
    found = session.get(EvalReport, report_id)
    if found is None:
        raise NotFound(f"no report {report_id!r}")
    return found


def read_report(session: Session, report_id: str) -> dict[str, Any]:
    """The ``report.json`` of ``report_id``; raises ``NotFound``."""
    data: dict[str, Any] = json.loads(_stored(session, report_id).body)
    return data


def report_html(session: Session, report_id: str) -> str:
    """The ``report.html`` of ``report_id``; raises ``NotFound``."""
    return _stored(session, report_id).html


def list_reports(session: Session, suite: str | None = None) -> list[ReportEntry]:
    """Every stored report (of ``suite``), newest first, each with its change since the previous run."""
    query = select(EvalReport.id, EvalReport.suite, EvalReport.created_at, EvalReport.passed, EvalReport.summary)
    if suite is not None:
        query = query.where(EvalReport.suite == suite)
    entries: list[ReportEntry] = []
    previous: dict[str, dict[str, Any]] = {}  # suite -> the previous run's summary
    for row in session.execute(query.order_by(EvalReport.suite, EvalReport.id)):
        body = {"summary": row.summary}
        changes = compare(previous[row.suite], body) if row.suite in previous else []
        entries.append(ReportEntry(
            id=row.id, suite=row.suite, created_at=row.created_at, passed=row.passed, summary=dict(row.summary),
            trend={c.metric: c.delta for c in changes}, regressions=[c.metric for c in changes if c.regression],
        ))  # fmt: skip
        previous[row.suite] = body
    return sorted(entries, key=lambda e: (e.created_at, e.id), reverse=True)
