"""Run a suite by name: the registry, the options every runner takes, and progress reporting.

Each suite is a function ``(RunOptions) -> Report`` registered in :data:`SUITES`; modules register
theirs when imported (see :func:`suites`). A runner raises :class:`SuiteSkipped` when its data is
missing, with a reason a person can act on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.settings import Settings
from eval import catalogue
from eval.report import Report

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.yaml"
_RUNNER_MODULES = ("eval.intent_suites", "eval.model_suites", "eval.opt_out_suite", "eval.agent_suites", "eval.gate",
                  "eval.retail_suites", "eval.experiment_suites")


class SuiteSkipped(Exception):
    """The suite cannot run here (its data set is absent); the message says why."""


class Progress:
    """Progress of a run: one task at a time. The base class ignores everything (tests, API)."""

    def start(self, description: str, total: int) -> None:
        """Begin a task of ``total`` steps."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current task are done."""


@dataclass
class RunOptions:
    """What a runner needs: settings (data dir for caches), the data file and optional knobs.

    ``data`` replaces the suite's default data (a file of the data set's own format, or for
    sentiment/language a UMSAB-style folder); ``split`` names the UMSAB split (default ``val``);
    ``train`` replaces the training file of the intent suites; ``limit`` caps evaluated items
    (smoke runs); ``workers`` bounds parallel cases.
    """

    settings: Settings
    data: Path | None = None
    train: Path | None = None
    split: str | None = None
    backend: str | None = None  # intent suites: None = the backend chosen for their (English) data sets
    limit: int | None = None
    workers: int = 2
    progress: Progress = field(default_factory=Progress)


Runner = Callable[[RunOptions], Report]
SUITES: dict[str, Runner] = {}


def register(name: str) -> Callable[[Runner], Runner]:
    """Decorator adding a runner to :data:`SUITES` under ``name``, which ``eval.catalogue`` describes."""
    if name not in catalogue.DESCRIPTIONS:  # found at import, not when the QA page leaves the suite out
        raise KeyError(f"eval suite {name!r} is not described in eval.catalogue")

    def wrap(fn: Runner) -> Runner:
        SUITES[name] = fn
        return fn

    return wrap


def suites() -> dict[str, str]:
    """Every suite name and its one-line description (imports the runner modules once)."""
    for module in _RUNNER_MODULES:
        importlib.import_module(module)
    return {name: catalogue.DESCRIPTIONS[name] for name in sorted(SUITES)}


def thresholds(suite: str, path: Path = THRESHOLDS_FILE) -> dict[str, float]:
    """The minimum summary figures of ``suite`` kept in the repository (``eval/thresholds.yaml``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): float(v) for k, v in (data.get(suite) or {}).items()}


def run_suite(name: str, options: RunOptions) -> Report:
    """Run suite ``name``; raises ``KeyError`` for an unknown name, :class:`SuiteSkipped` without data."""
    known = suites()
    if name not in known:
        raise KeyError(f"unknown suite {name!r}; known: {', '.join(known)}")
    report = SUITES[name](options)
    # a skipped part keeps its thresholds: its figures are missing, so they fail (Report.passed)
    report.thresholds = thresholds(name)
    return report
