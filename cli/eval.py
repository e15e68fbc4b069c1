"""``relais eval run|compare|list``: run evaluation suites, write reports, compare two reports.

``run`` writes ``report.json`` and ``report.html`` into ``--out`` (default
``<data_dir>/reports/<suite>/<timestamp>/``) and publishes the report to the deployment's database, where the
console's QA page and ``/api/v1/eval/reports`` on every host read it (``--no-publish`` keeps it to the files).
``compare`` exits 1 when a headline figure regressed by more than ``--tolerance``.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import Progress as Bar
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy.exc import OperationalError

from cli.console import console, progress_bar
from core import db
from core.errors import ValidationFailed
from core.runtime import bootstrap
from core.words import counted
from eval import report as reports
from eval.compare import CaseChanges, case_changes, compare, measured_differently
from eval.figures import change as figure_change
from eval.figures import fmt
from eval.paths import new_report_dir
from eval.runner import Progress, RunOptions, SuiteSkipped, run_suite, suites
from eval.store import publish

eval_app = typer.Typer(help="Evaluation suites and QA reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


class _RichProgress(Progress):
    """Each runner task as a line of the shared Rich progress bar."""

    def __init__(self, bar: Bar) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)
        self.task = self.bar.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, steps)


@eval_app.command("list")
def list_suites() -> None:
    """The suites and what each measures."""
    table = Table("suite", "what it measures")
    for name, description in suites().items():
        table.add_row(name, description)
    console.print(table)


@eval_app.command("run")
def run(
    suite: str = typer.Option(..., "--suite", "-s", help="Suite name (see `relais eval list`)."),
    data: Path | None = typer.Option(None, help="Another file (or UMSAB folder) in the suite's own format."),
    out: Path | None = typer.Option(None, help="Report folder (default <data_dir>/reports/<suite>/<time>)."),
    train: Path | None = typer.Option(None, help="Training file: intent suites (CLINC150 JSON, BANKING77 CSV), "
                                     "Online Retail suites (history up to the cutoff)."),
    split: str | None = typer.Option(None, help="UMSAB split for sentiment/language (default val)."),
    limit: int | None = typer.Option(None, min=1, help="Evaluate at most this many items (smoke runs)."),
    backend: str | None = typer.Option(
        None, help="Embedding backend of the intent suites (default use-multilingual+minilm for these English sets)."
    ),
    workers: int = typer.Option(min(4, os.cpu_count() or 1), min=1, help="Agent cases run in parallel."),
    check: bool = typer.Option(False, help="Exit 1 when a figure is below its threshold."),
    publish_report: bool = typer.Option(
        True, "--publish/--no-publish", help="Publish the report to the deployment's database (the console's QA page)."
    ),
) -> None:
    """Run one suite, write report.json + report.html and publish them to the QA page."""
    settings = bootstrap()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with progress_bar() as bar:
        options = RunOptions(
            settings=settings,
            data=data,
            train=train,
            split=split,
            limit=limit,
            workers=workers,
            backend=backend,
            progress=_RichProgress(bar),
        )
        try:
            result = run_suite(suite, options)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0]), param_hint="--suite") from None
        except SuiteSkipped as exc:
            console.print(f"[yellow]skipped:[/] {exc}")
            raise typer.Exit(3) from None
        except (ValueError, ValidationFailed) as exc:  # a data file not in the suite's format
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    folder = out or new_report_dir(settings, suite)
    json_path, html_path = reports.write(result, folder)
    table = Table("figure", "value", "threshold")
    failed = result.failed_thresholds
    for name, value in result.summary.items():
        minimum = result.thresholds.get(name)
        text = fmt(value, name)  # in its unit, as the QA page and the report say it; None: n/a, nothing to measure
        table.add_row(name, f"[red]{text}[/]" if name in failed else text,
                      "" if minimum is None else f"≥ {fmt(minimum, name)}")  # fmt: skip
    console.print(table)
    # failed cases, listed in the report; the run passes or fails on its thresholds ("1 failures" read as a failed run)
    failures = counted(len(result.failures), "failed case")
    console.print(f"{failures} · report: {html_path} ({json_path.name} beside it)")
    if publish_report:
        _publish(result)
    if failed:
        console.print(f"[red]below threshold:[/] {', '.join(failed)} (n/a and missing figures meet no threshold)")
    for part, reason in result.skipped.items():
        console.print(f"[red]part skipped, so the suite fails:[/] {part}: {reason}")
    if check and not result.passed:
        raise typer.Exit(1)


def _publish(result: reports.Report) -> None:
    """Store the report where the console reads it; a database not migrated yet is said, not fatal: the files
    are written."""
    try:
        with db.session_scope() as session:
            report_id = publish(session, result)
    except OperationalError as exc:
        console.print(f"[yellow]not published to the QA page[/] (run `relais migrate` first?): {exc.orig}")
        return
    console.print(f"published to the QA page as {report_id} (/console/qa)")


def _print_case_changes(cases: CaseChanges) -> None:
    """The cases that started failing (with what they got and expected) and those fixed."""
    if cases.failing:
        console.print(f"[red]failing now, passed before ({len(cases.failing)}):[/]")
        for failure in cases.failing:
            console.print(f"  {failure.get('id')}: {str(failure.get('input'))[:80]!r} got {failure.get('got')}, "
                          f"expected {failure.get('expected')}", markup=False, highlight=False)  # fmt: skip
    if cases.fixed:
        console.print(f"[green]passing now, failed before ({len(cases.fixed)}):[/] {', '.join(cases.fixed)}")
    if not cases.failing and not cases.fixed:
        console.print("the same cases fail in both" if cases.complete else "no case changed among those listed")
    if not cases.complete:
        console.print("[yellow]a report lists only its first failures: other cases may have changed too[/]")


@eval_app.command("compare")
def compare_reports(
    before: Path = typer.Argument(..., help="The earlier report (folder or report.json)."),
    after: Path = typer.Argument(..., help="The later report."),
    tolerance: float = typer.Option(0.005, min=0.0, help="Allowed drop before a change is a regression."),
) -> None:
    """Headline figures of two reports side by side; exit 1 when one regressed beyond tolerance."""
    old, new = reports.load(before), reports.load(after)
    if old.get("suite") != new.get("suite"):
        console.print(f"[yellow]comparing different suites: {old.get('suite')} and {new.get('suite')}[/]")
    differing = measured_differently(old, new)
    if differing:
        console.print(f"[yellow]the runs measured different cases ({'; '.join(differing)}): a change may come from the "
                      "cases, not the model[/]")  # fmt: skip
    changes = compare(old, new, tolerance=tolerance)
    table = Table("figure", "before", "after", "change")
    for change in changes:
        style = "red" if change.regression else ("green" if change.delta else "")
        row = figure_change(change.delta, change.metric)
        table.add_row(change.metric, fmt(change.before, change.metric), fmt(change.after, change.metric),
                      f"[{style}]{row}[/]" if style else row)  # fmt: skip
    console.print(table)
    _print_case_changes(case_changes(old, new))
    regressions = [c.metric for c in changes if c.regression]
    if regressions:
        console.print(f"[red]regressions beyond {tolerance}:[/] {', '.join(regressions)}")
        raise typer.Exit(1)
    console.print("no regression")
