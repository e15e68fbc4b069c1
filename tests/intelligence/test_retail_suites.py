"""The propensity, send_time and recommend suites on small Online Retail-format files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.settings import Settings
from eval.runner import RunOptions, SuiteSkipped, run_suite
from tests.intelligence.retail_helpers import START, synthetic_lines, write_online_retail


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("retail")
    lines = synthetic_lines(customers=120, seed=1)
    cutoff = START + pd.Timedelta(days=180)
    whole = write_online_retail(lines, folder / "whole.csv")
    train = write_online_retail(lines[lines["ordered_at"] < cutoff], folder / "train.csv")
    after = write_online_retail(lines[lines["ordered_at"] >= cutoff], folder / "after.csv")
    return whole, train, after


def test_propensity_suite_beside_its_baselines(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    whole, _, _ = files
    report = run_suite("propensity", RunOptions(settings=Settings.model_validate({"data_dir": tmp_path}), train=whole))
    assert "carved in time" in report.data and "horizon" in report.data
    summary = report.summary
    assert summary["purchase_auc"] > 0.9 and summary["purchase_auc_recency"] is not None
    assert summary["purchase_auc_rfm_logistic"] is not None and summary["spend_spearman"] > 0.5
    assert summary["revenue_accuracy"] == pytest.approx(1 - summary["revenue_error"])
    assert report.thresholds["purchase_auc"] == 0.76
    assert len(report.choices) == 3 and all("not the evaluated data" in how for how in report.choices.values())
    assert report.metrics["run_rate_weight"] in (0.0, 0.25, 0.5, 0.75, 1.0)


def test_send_time_and_recommend_suites_on_train_and_data_files(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, train, after = files
    options = RunOptions(settings=Settings.model_validate({"data_dir": tmp_path}), train=train, data=after)
    timing = run_suite("send_time", options)
    assert "data after.csv" in timing.data
    assert timing.summary["hour_hit_pm1"] > timing.summary["hour_hit_pm1_one_best_hour"]
    low, high = timing.summary["lift_ci95_low"], timing.summary["lift_ci95_high"]
    assert low <= timing.summary["lift_over_one_best_hour"] <= high and timing.summary["personal_hours"]
    picks = run_suite("recommend", options)
    assert picks.summary["hit_at_10"] >= picks.summary["hit_at_10_own_top10"] > picks.summary["hit_at_10_most_popular"]
    assert picks.summary["customers"] > 0


def test_a_missing_file_skips_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(SuiteSkipped, match="not found"):
        settings = Settings.model_validate({"data_dir": tmp_path})
        run_suite("recommend", RunOptions(settings=settings, train=tmp_path / "absent.csv"))
