"""Response propensity on a synthetic Bank-Marketing-format file with a known signal: the loader
never reads ``duration``, the model ranks responders, handles unseen categories, round-trips, and
the ``response`` suite reports its AUC beside the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.settings import Settings
from eval.runner import RunOptions, run_suite
from intelligence.experiment_data import load_bank
from intelligence.response import ResponseModel, choose, prepare
from tests.intelligence.experiment_helpers import bank_frame, write_bank


def test_loader_drops_duration_and_checks_the_answer(tmp_path: Path) -> None:
    contacts = load_bank(write_bank(tmp_path / "b.csv", 200, seed=1))
    assert "duration" not in contacts.features  # it holds the answer in this file: reading it would be perfect
    assert set(contacts.outcome) == {0, 1}
    assert str(contacts.features["month"].dtype) == "category"
    bank_frame(5, seed=2).assign(y="maybe").to_csv(tmp_path / "bad.csv", sep=";", index=False)
    with pytest.raises(ValueError, match="yes/no"):
        load_bank(tmp_path / "bad.csv")


def test_never_contacted_is_a_flag_not_999_days() -> None:
    frame = prepare(bank_frame(50, seed=3).drop(columns=["duration", "y"]))
    never = frame["never_contacted"] == 1
    assert frame.loc[never, "pdays"].isna().all() and frame.loc[~never, "pdays"].notna().all()


def test_model_ranks_responders_and_round_trips(tmp_path: Path) -> None:
    train = load_bank(write_bank(tmp_path / "train.csv", 3000, seed=4))
    fresh = load_bank(write_bank(tmp_path / "fresh.csv", 1500, seed=5))
    model = ResponseModel(params={"num_leaves": 7, "min_child_samples": 50, "n_estimators": 100}, seeds=(0, 1))
    model.fit(train.features, train.outcome)
    auc = roc_auc_score(fresh.outcome, model.predict(fresh.features))
    assert auc > 0.75  # contact x month and past contact carry the signal; noise columns do not
    again = ResponseModel.from_bytes(model.to_bytes())
    assert np.allclose(again.predict(fresh.features), model.predict(fresh.features))
    unseen = fresh.features.copy()
    unseen["job"] = unseen["job"].astype(str).replace({"a": "astronaut"})
    assert np.isfinite(model.predict(unseen)).all()
    with pytest.raises(RuntimeError):
        ResponseModel().predict(fresh.features)


def test_choose_reports_every_grid_point(tmp_path: Path) -> None:
    train = load_bank(write_bank(tmp_path / "train.csv", 1500, seed=6))
    grid = {"num_leaves": (3, 7), "min_child_samples": (50,)}
    choice = choose(train.features, train.outcome, grid=grid, max_trees=200)
    assert set(choice.validation) == {"num_leaves=3 min_child_samples=50", "num_leaves=7 min_child_samples=50"}
    best = max(choice.validation.values(), key=lambda v: v["auc"])
    assert choice.params["n_estimators"] == best["trees"] and best["auc"] > 0.7


def test_response_suite_reports_auc_beside_its_baselines(tmp_path: Path) -> None:
    train = write_bank(tmp_path / "train.csv", 2000, seed=7)
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = run_suite("response", RunOptions(settings=settings, train=train))
    summary = report.summary
    assert {"auc", "auc_logistic_regression", "auc_gradient_boosting", "auc_seed_std"} <= set(summary)
    assert summary["n"] == 400 and "carved for reporting" in report.data and "duration never read" in report.data
    assert summary["auc"] > 0.75
    assert report.thresholds.get("auc") == pytest.approx(0.8)
