"""Comparing two reports: which headline figures got worse, and by how much."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Figures where lower is better (times); every other summary figure is better when higher.
LOWER_IS_BETTER = frozenset({"latency_p50_ms", "latency_p95_ms", "p50_ms", "p95_ms", "revenue_error",
                             "revenue_error_run_rate", "next_purchase_mae_days", "next_purchase_mae_days_own_gap"})
# Sizes, not quality: shown, never a regression.
COUNTS = frozenset({"n", "cases", "positives", "customers", "buyers"})
# Times jitter from run to run and machine to machine: only a slow-down beyond this share counts.
LATENCY_TOLERANCE = 0.25


@dataclass(frozen=True)
class Change:
    metric: str
    before: float
    after: float
    delta: float
    regression: bool


def _regressed(name: str, old: float, new: float, tolerance: float) -> bool:
    base = name.rsplit(".", 1)[-1]  # the gate prefixes figures with their part: "clinc150.oos_recall"
    if base in COUNTS:
        return False
    if base in LOWER_IS_BETTER:
        return new - old > max(tolerance, LATENCY_TOLERANCE * old)
    return new - old < -tolerance


def compare(before: dict[str, Any], after: dict[str, Any], *, tolerance: float = 0.005) -> list[Change]:
    """Changes of every numeric summary figure the two reports share; worst regressions first.

    ``tolerance`` is the drop a quality figure (a share in [0, 1]) may take before it is a
    regression; latencies regress when more than ``LATENCY_TOLERANCE`` slower; counts never do.
    A figure that is n/a (None: nothing to measure) in either report is not compared.
    """
    changes = []
    for name, old in before.get("summary", {}).items():
        new = after.get("summary", {}).get(name)
        if not isinstance(old, int | float) or not isinstance(new, int | float) or isinstance(old, bool):
            continue
        delta = float(new) - float(old)
        changes.append(Change(name, float(old), float(new), round(delta, 4),
                              _regressed(name, float(old), float(new), tolerance)))
    return sorted(changes, key=lambda c: (not c.regression, -abs(c.delta)))


@dataclass(frozen=True)
class CaseChanges:
    """Which cases changed verdict between two reports of a suite, from each report's listed failures."""

    failing: list[dict[str, Any]]  # failures of the later report whose case passed in the earlier one
    fixed: list[str]  # ids of the earlier report's failures that the later one no longer lists
    complete: bool  # False when a report lists fewer failures than it had (cut at its limit): the lists are partial


def case_changes(before: dict[str, Any], after: dict[str, Any]) -> CaseChanges:
    """The cases that started or stopped failing from ``before`` to ``after``. A comparison gave only the headline
    figures: which cases a drop came from meant reading both reports' failure tables side by side."""
    old = {str(f.get("id")): f for f in before.get("failures") or []}
    new = {str(f.get("id")): f for f in after.get("failures") or []}
    complete = all(len(r.get("failures") or []) >= int(r.get("failures_total") or 0) for r in (before, after))
    return CaseChanges([f for case, f in new.items() if case not in old], [case for case in old if case not in new],
                       complete)  # fmt: skip


def measured_differently(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The sizes (``n``, ``cases``, ``customers``…) that differ between the reports, as "n: 40 → 20": their figures
    were measured on different cases (a ``--limit`` run, cases added), so a change may come from the cases."""
    old, new = before.get("summary") or {}, after.get("summary") or {}
    return [f"{name}: {old[name]:g} → {new[name]:g}" for name in old
            if name.rsplit(".", 1)[-1] in COUNTS and isinstance(old[name], int | float)
            and isinstance(new.get(name), int | float) and old[name] != new[name]]  # fmt: skip
