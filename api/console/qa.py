"""The console's QA page (role ``analyst``; admin too): every suite's reports with their trends.

Reads the reports ``relais eval run`` stored (``eval.store``) and shapes them for the template:
one table per suite, newest run first, each headline figure with its change since the previous
run, whether it met its threshold, and a server-rendered SVG sparkline of the figure over the
runs shown (oldest to newest). No JavaScript is needed. Figures are said in words with a one-line
meaning under each table (``eval.figures``): the page showed the reports' names (``macro_f1``,
``opt_out_handled_unseen``), which a QA reader had to look up in the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.deps import db_session, require
from core.accounts import Principal
from core.errors import NotFound
from core.rbac import Role
from eval import catalogue
from eval.compare import COUNTS, LOWER_IS_BETTER, case_changes, compare, measured_differently
from eval.figures import Figure, change, describe, fmt, unit
from eval.metrics import NOT_APPLICABLE
from eval.store import ReportEntry, list_reports, read_report

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ANALYSTS = require(Role.ANALYST)

#: a share or score ahead of its baseline by less than this (half a point, compare's tolerance) is level with it;
#: a time or an error by less than this share of itself
LEVEL = 0.005
LEVEL_RELATIVE = 0.02
SPARK_WIDTH = 120
SPARK_HEIGHT = 28
_PAD = 3


@dataclass(frozen=True)
class Cell:
    """One headline figure of one run: its value, change since the previous run, threshold check."""

    value: str
    delta: str = ""
    regression: bool = False
    minimum: float | None = None
    minimum_text: str = ""  # the minimum in the figure's unit ("97.0 %")
    below: bool = False
    beats: tuple[str, ...] = ()  # baselines this figure does better than in the same run
    trails: tuple[str, ...] = ()  # baselines that did as well or better
    level: tuple[str, ...] = ()  # baselines it is ahead of by less than LEVEL: no difference to speak of
    baseline_of: str = ""  # this figure is a baseline of that one


@dataclass(frozen=True)
class Run:
    id: str
    created_at: str
    passed: bool
    cells: dict[str, Cell]
    previous: str = ""  # the suite's run before it, to compare with ("" for its first)


@dataclass(frozen=True)
class Spark:
    """A sparkline: SVG polyline points, the last point, and a sentence describing it for screen readers."""

    points: str
    last: tuple[float, float]
    description: str


@dataclass(frozen=True)
class Suite:
    name: str
    figures: list[str]
    runs: list[Run]  # newest first
    sparks: dict[str, Spark]
    total: int  # runs stored, of which ``runs`` are the newest
    described: dict[str, Figure]  # each figure's words and meaning


def _numeric(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sparkline(name: str, values: list[float]) -> Spark:
    """Points for ``values`` (oldest first) scaled into the sparkline box, and their text alternative."""
    low, high = min(values), max(values)
    span = high - low
    step = (SPARK_WIDTH - 2 * _PAD) / max(len(values) - 1, 1)
    coords = [
        (
            round(_PAD + i * step, 1),
            round(SPARK_HEIGHT / 2 if span == 0 else _PAD + (high - v) / span * (SPARK_HEIGHT - 2 * _PAD), 1),
        )
        for i, v in enumerate(values)
    ]
    if len(coords) == 1:  # one run: a flat line so the chart still reads as "no history yet"
        coords = [(float(_PAD), coords[0][1]), (float(SPARK_WIDTH - _PAD), coords[0][1])]
    better = "lower is better" if name.rsplit(".", 1)[-1] in LOWER_IS_BETTER else "higher is better"
    description = (
        f"{describe(name).words} over {len(values)} run{'s' if len(values) != 1 else ''}, oldest to newest: "
        f"{', '.join(fmt(v, name) for v in values)} (lowest {fmt(low, name)}, highest {fmt(high, name)}; {better})"
    )
    return Spark(" ".join(f"{x},{y}" for x, y in coords), coords[-1], description)


@dataclass(frozen=True)
class Stored:
    """What the listing does not carry: the run's minimums and the baselines of each figure."""

    thresholds: dict[str, float]
    baselines: dict[str, list[str]]


def _stored(session: Session, entry: ReportEntry) -> Stored:
    try:
        report = read_report(session, entry.id)
    except NotFound:  # removed since it was listed
        return Stored({}, {})
    raw = report.get("thresholds") or {}
    baselines = report.get("baselines") or {}
    return Stored({str(k): float(v) for k, v in raw.items() if _numeric(v)},
                  {str(k): [str(b) for b in v] for k, v in baselines.items() if isinstance(v, list)})  # fmt: skip


def _compared(
    name: str, value: Any, summary: dict[str, Any], baselines: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The baselines ``name`` beats, those it trails and those it is level with (ahead by less than :data:`LEVEL`;
    a baseline or the figure n/a: none). An AUC of 0.7523 against a baseline's 0.7521 read "beats its 2 baselines":
    a margin no rerun would keep."""
    if not _numeric(value):
        return (), (), ()
    lower = name.rsplit(".", 1)[-1] in LOWER_IS_BETTER
    margin = LEVEL if unit(name) in ("share", "score") else LEVEL_RELATIVE * abs(value)
    beats: list[str] = []
    trails: list[str] = []
    level: list[str] = []
    for baseline in baselines:
        other = summary.get(baseline)
        if not _numeric(other):
            continue
        ahead = other - value if lower else value - other
        (trails if ahead <= 0 else level if ahead < margin else beats).append(baseline)
    return tuple(beats), tuple(trails), tuple(level)


def _run(entry: ReportEntry, figures: list[str], stored: Stored, previous: str) -> Run:
    cells = {}
    of = {baseline: name for name, baselines in stored.baselines.items() for baseline in baselines}
    for name in figures:
        value = entry.summary.get(name)
        minimum = stored.thresholds.get(name)
        beats, trails, level = _compared(name, value, entry.summary, stored.baselines.get(name, []))
        cells[name] = Cell(
            value=fmt(value, name),
            delta=change(entry.trend.get(name), name),
            regression=name in entry.regressions,
            minimum=minimum,
            minimum_text=fmt(minimum, name) if minimum is not None else "",
            # as the report's own gate: a missing figure counts as 0, so it is below any minimum
            below=minimum is not None and (float(value) if _numeric(value) else 0.0) < minimum,
            beats=beats,
            trails=trails,
            level=level,
            baseline_of=of.get(name, ""),
        )
    return Run(entry.id, entry.created_at, entry.passed, cells, previous)


def suites(session: Session, limit: int) -> list[Suite]:
    """Every suite with stored reports (by name), its ``limit`` newest runs and their sparklines."""
    grouped: dict[str, list[ReportEntry]] = {}
    for entry in list_reports(session):  # newest first
        grouped.setdefault(entry.id.split("/", 1)[0], []).append(entry)
    out = []
    for name in sorted(grouped):
        entries = grouped[name][:limit]
        figures: list[str] = []
        for entry in entries:  # the newest run's figures first, then any older ones it dropped
            # an undefined figure (n/a) keeps its column: left out, it looked as if it was never measured
            figures += [k for k, v in entry.summary.items()
                        if (_numeric(v) or v in (None, NOT_APPLICABLE)) and k not in figures]  # fmt: skip
        sparks = {}
        for figure in figures:
            values = [float(e.summary[figure]) for e in reversed(entries) if _numeric(e.summary.get(figure))]
            if values and figure not in COUNTS:
                sparks[figure] = sparkline(figure, values)
        runs = [_run(e, figures, _stored(session, e), grouped[name][i + 1].id if i + 1 < len(grouped[name]) else "")
                for i, e in enumerate(entries)]  # fmt: skip
        out.append(Suite(name, figures, runs, sparks, len(grouped[name]), {f: describe(f) for f in figures}))
    return out


@router.get("/qa", response_class=HTMLResponse)
def qa_page(
    request: Request,
    runs: int = Query(20, ge=1, le=200, description="newest runs shown per suite"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ANALYSTS),
) -> HTMLResponse:
    return render(
        request,
        "console/qa.html",
        {
            "suites": suites(session, runs),
            "limit": runs,
            "spark_box": {"width": SPARK_WIDTH, "height": SPARK_HEIGHT},
            "status": views.agent_status(session, principal),
            "described_suites": catalogue.DESCRIPTIONS,  # those without a report are listed as not run yet
        },
        principal=principal,
    )


@router.get("/qa/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    before: str = Query(..., description="the earlier run's id, suite/timestamp"),
    after: str = Query(..., description="the later run's id"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ANALYSTS),
) -> HTMLResponse:
    """Two runs side by side: each figure before and after with its change, the cases that started or stopped
    failing (with what they got and expected), and a warning when the runs measured different cases. The page gave
    only each run's change since the one before it; ``relais eval compare`` was the only way to see which cases a
    drop came from."""
    old, new = read_report(session, before), read_report(session, after)
    rows = [{"name": c.metric, "words": describe(c.metric).words, "before": fmt(c.before, c.metric),
             "after": fmt(c.after, c.metric), "change": change(c.delta, c.metric), "regression": c.regression}
            for c in compare(old, new)]  # fmt: skip
    context = {"before": before, "after": after, "rows": rows, "cases": case_changes(old, new),
               "differing": measured_differently(old, new), "suites": (old.get("suite"), new.get("suite"))}  # fmt: skip
    return render(request, "console/qa_compare.html", context, principal=principal)
