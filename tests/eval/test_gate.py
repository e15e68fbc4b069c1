"""The quality gate: a small suite with thresholds kept in eval/thresholds.yaml.

Falling below a threshold fails here. The CLINC150 part reads the shared data set beside the
repository (``../shared/data``, or ``RELAIS_SHARED_DATA``); when it is absent the part is skipped
with the reason, and the gate does not pass (``relais eval run --suite gate --check`` exits 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from eval.report import Report
from eval.runner import RunOptions, run_suite, thresholds
from tests.helpers import skip_unless_ci


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Report:
    data_dir: Path = tmp_path_factory.mktemp("gate")
    return run_suite("gate", RunOptions(settings=Settings.model_validate({"data_dir": data_dir}), workers=2))


def _below(report: Report, part: str) -> dict[str, tuple[float | None, float]]:
    return {k: v for k, v in report.failed_thresholds.items() if k.startswith(part + ".")}


@pytest.mark.parametrize("part", ["keywords", "redteam", "agent"])
def test_gate_builtin_suites(gate: Report, part: str) -> None:
    assert any(k.startswith(part + ".") for k in gate.thresholds), f"no threshold for {part}"
    failures = [f"{f.id}: {f.detail or f.got}" for f in gate.failures if f.id.startswith(part + "/")]
    assert not _below(gate, part), f"{part} below threshold: {_below(gate, part)}; failures: {failures}"


def test_gate_opt_out_recall_is_total(gate: Report) -> None:
    assert gate.summary["keywords.opt_out_recall"] == 1.0
    assert gate.summary["redteam.opt_out_recall"] == 1.0


def test_gate_clinc150_subset(gate: Report) -> None:
    skipped = gate.metrics["skipped"]
    if "clinc150" in skipped:
        skip_unless_ci(f"CLINC150 part skipped: {skipped['clinc150']}")
    assert {k for k in thresholds("gate") if k.startswith("clinc150.")} <= set(gate.thresholds)
    assert not _below(gate, "clinc150"), _below(gate, "clinc150")


def test_the_gate_passes_only_with_every_part_run(gate: Report) -> None:
    assert set(thresholds("gate")) == set(gate.thresholds)  # a skipped part keeps its thresholds
    assert gate.passed == (not gate.skipped and not gate.failed_thresholds)
    for part in gate.skipped:
        assert any(name.startswith(part + ".") for name in gate.failed_thresholds)
