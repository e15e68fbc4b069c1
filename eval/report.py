"""Evaluation reports: ``report.json`` for machines and ``report.html`` for QA.

A report holds headline figures (summary cards), full metrics, bar charts, a confusion heat-map
(or its most confused pairs when there are too many classes) and the worst failures with their
inputs and the sources the bot used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

MAX_HEATMAP_LABELS = 30
MAX_FAILURES = 50


@dataclass
class Failure:
    id: str
    input: str
    expected: Any
    got: Any
    detail: str = ""
    sources: list[str] = field(default_factory=list)


@dataclass
class Report:
    suite: str
    summary: dict[str, Any]
    metrics: dict[str, Any]
    charts: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, Any] | None = None
    failures: list[Failure] = field(default_factory=list)
    data: str = ""
    path: str = "offline"  # llm or offline: which generation path the bot took
    thresholds: dict[str, float] = field(default_factory=dict)
    failure_limit: int | None = MAX_FAILURES  # failures kept in the files; None keeps each one (red-team)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def failed_thresholds(self) -> dict[str, tuple[float, float]]:
        """``{metric: (value, minimum)}`` for every summary figure below its threshold."""
        return {
            name: (float(self.summary.get(name, 0.0)), minimum)
            for name, minimum in self.thresholds.items()
            if float(self.summary.get(name, 0.0)) < minimum
        }

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["failures_total"] = len(self.failures)
        body["failures"] = body["failures"][: self.failure_limit]
        body["passed"] = not self.failed_thresholds
        return body


def confused_pairs(labels: list[str], matrix: list[list[int]], top: int = 20) -> list[dict[str, Any]]:
    pairs = sorted(
        (
            (count, labels[i], labels[j])
            for i, row in enumerate(matrix)
            for j, count in enumerate(row)
            if i != j and count
        ),
        key=lambda p: -p[0],
    )
    return [{"expected": e, "predicted": p, "count": c} for c, e, p in pairs[:top]]


def _environment() -> Environment:
    return Environment(loader=PackageLoader("eval", "templates"), autoescape=select_autoescape(["html"]))


def _heat(value: int, row_total: int) -> str:
    share = value / row_total if row_total else 0.0
    lightness = 97 - int(share * 55)
    return f"hsl(215, 70%, {lightness}%)"


def write(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    body = report.to_dict()
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    confusion = report.confusion
    heatmap = None
    pairs: list[dict[str, Any]] = []
    if confusion:
        labels, matrix = confusion["labels"], confusion["matrix"]
        if len(labels) <= MAX_HEATMAP_LABELS:
            heatmap = [
                (labels[i], [(count, _heat(count, sum(row))) for count in row]) for i, row in enumerate(matrix)
            ]
        pairs = confused_pairs(labels, matrix)
    html = _environment().get_template("report.html").render(
        report=body, heatmap=heatmap, heat_labels=confusion["labels"] if confusion and heatmap else [], pairs=pairs,
        failed=report.failed_thresholds,
    )
    html_path = out_dir / "report.html"
    html_path.write_text(html)
    return json_path, html_path


def load(path: Path) -> dict[str, Any]:
    """A written report (a ``report.json`` file or the folder holding it)."""
    path = path / "report.json" if path.is_dir() else path
    data: dict[str, Any] = json.loads(path.read_text())
    return data
