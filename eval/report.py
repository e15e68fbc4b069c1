"""Evaluation reports: ``report.json`` for machines and ``report.html`` for QA.

A report holds headline figures (summary cards; ``None`` is "n/a": nothing to measure), full
metrics, bar charts, a confusion heat-map (or its most confused pairs when there are too many
classes), the worst failures with their inputs and the sources the bot used, and ``choices``: each
choice behind the figures (model, threshold...) with the data split it was made on, so a reader
can tell a figure measured on fresh data from one measured where it was tuned.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.intent.classifier import IntentClassifier
from eval.figures import describe, fmt
from eval.metrics import NOT_APPLICABLE

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
    choices: dict[str, str] = field(default_factory=dict)  # what was chosen -> the split it was chosen on
    # a headline figure -> the figures of the baselines measured beside it in the same run, on the same data
    baselines: dict[str, list[str]] = field(default_factory=dict)
    failure_limit: int | None = MAX_FAILURES  # failures kept in the files; None keeps each one (red-team)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def failed_thresholds(self) -> dict[str, tuple[float | None, float]]:
        """``{metric: (value, minimum)}`` for every summary figure below its threshold; a figure that is
        missing or n/a (None) fails too: a threshold is never met by measuring nothing."""
        failed: dict[str, tuple[float | None, float]] = {}
        for name, minimum in self.thresholds.items():
            value = self.summary.get(name)
            if value is None or float(value) < minimum:
                failed[name] = (None if value is None else float(value), minimum)
        return failed

    @property
    def skipped(self) -> dict[str, str]:
        """Parts of the suite that could not run, with the reason (the gate without CLINC150 data)."""
        return {str(k): str(v) for k, v in (self.metrics.get("skipped") or {}).items()}

    @property
    def passed(self) -> bool:
        """Every threshold met and no part skipped: a part that did not run proves nothing."""
        return not self.failed_thresholds and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["failures_total"] = len(self.failures)
        body["failures"] = body["failures"][: self.failure_limit]
        body["passed"] = self.passed
        body["skipped"] = self.skipped
        return body


def intent_choices(model: IntentClassifier, trained_on: str) -> dict[str, str]:
    """The choices behind an intent model's figures and the split each was made on.

    The backend is configuration; the trainer's out-of-scope score and in-scope rejection budget
    were chosen once on a choosing split carved from CLINC150's train (docs/intents.md); the head's
    C, its temperature and its out-of-scope threshold are chosen per model on out-of-fold
    predictions over its own training data.
    """
    folds = model.metrics.get("config", {}).get("folds", "k")
    threshold = "out-of-scope log-ratio" if model.oos_log_ratio is not None else "confidence threshold"
    return {
        f"backend {model.backend}": "configuration (RELAIS_INTENT_BACKEND or --backend), not tuned on this data",
        "out-of-scope score (log-ratio) and the 1 % in-scope rejection budget":
            "choosing split carved from CLINC150 train + oos_train (docs/intents.md), not the evaluated data",
        f"head C={model.metrics.get('c')}, temperature, {threshold}":
            f"{folds}-fold out-of-fold predictions on the training data only ({trained_on})",
    }


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
    """A cell's CSS: blue as dark as its share of the row, its count legible (4.5:1) on it.

    Dark ink meets 4.5:1 from lightness 58 % up, white text up to 51 %: darker cells jump the gap.
    """
    share = value / row_total if row_total else 0.0
    lightness = 97 - int(share * 55)
    if lightness >= 58:
        return f"background: hsl(215, 70%, {lightness}%)"
    return f"background: hsl(215, 70%, {min(lightness, 50)}%); color: #fff"


def render(report: Report) -> tuple[dict[str, Any], str]:
    """The report as ``report.json``'s body and as its HTML page."""
    body = report.to_dict()
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
        failed=report.failed_thresholds, not_applicable=NOT_APPLICABLE, describe=describe, fmt=fmt,
    )
    return body, html


def write(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    body, html = render(report)
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    html_path = out_dir / "report.html"
    html_path.write_text(html)
    return json_path, html_path


def load(path: Path) -> dict[str, Any]:
    """A written report (a ``report.json`` file or the folder holding it)."""
    path = path / "report.json" if path.is_dir() else path
    data: dict[str, Any] = json.loads(path.read_text())
    return data
