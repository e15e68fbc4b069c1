"""Uplift learners on a synthetic experiment whose uplift is known, the metric by hand, the Hillstrom
loader and the ``uplift`` suite on small Hillstrom-format files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from eval.runner import RunOptions, SuiteSkipped, run_suite
from intelligence.experiment_data import load_hillstrom
from intelligence.uplift import METHODS, UpliftModel, choose, uplift_at_top
from tests.intelligence.experiment_helpers import hillstrom_frame, write_bank, write_hillstrom


def test_uplift_at_top_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.0])
    treated = np.array([1, 0, 1, 0, 1, 0])
    outcome = np.array([1, 0, 1, 1, 0, 0])
    # top half: rows 0-2; treated 2/2 visited, control 0/1
    assert uplift_at_top(scores, treated, outcome, share=0.5) == pytest.approx(1.0)
    assert uplift_at_top(scores, treated, outcome, share=1.0) == pytest.approx(2 / 3 - 1 / 3)
    # the top third holds only row 0 and 1: one of each group; the top sixth has no control: n/a
    assert uplift_at_top(scores, treated, outcome, share=1 / 6) is None


def test_loader_maps_arms_and_refuses_foreign_files(tmp_path: Path) -> None:
    path = write_hillstrom(tmp_path / "h.csv", 60, seed=1)
    experiment = load_hillstrom(path)
    assert len(experiment) == 60
    assert set(experiment.arms) <= {0, 1, 2}
    assert (experiment.treated == (experiment.arms != 0)).all()
    assert "segment" not in experiment.features and "visit" not in experiment.features
    frame = hillstrom_frame(10, seed=2)
    frame.drop(columns=["visit"]).to_csv(tmp_path / "novisit.csv", index=False)
    with pytest.raises(ValueError, match="visit"):
        load_hillstrom(tmp_path / "novisit.csv")
    frame.assign(segment="SMS").to_csv(tmp_path / "arm.csv", index=False)
    with pytest.raises(ValueError, match="unknown segment"):
        load_hillstrom(tmp_path / "arm.csv")


@pytest.mark.parametrize("method", METHODS)
def test_each_learner_finds_who_the_message_moves(tmp_path: Path, method: str) -> None:
    train = load_hillstrom(write_hillstrom(tmp_path / "train.csv", 3000, seed=3))
    fresh = load_hillstrom(write_hillstrom(tmp_path / "fresh.csv", 3000, seed=4))
    model = UpliftModel(method).fit(train.features, train.treated, train.outcome)
    scores = model.predict(fresh.features)
    targeted = uplift_at_top(scores, fresh.treated, fresh.outcome)
    everyone = uplift_at_top(np.zeros(len(fresh)), fresh.treated, fresh.outcome, share=1.0)
    assert targeted is not None and everyone is not None
    # recent customers (a quarter) gain 0.2 more: the top 30 % must hold mostly them
    assert targeted > everyone + 0.08
    recent = fresh.features["recency"].to_numpy() <= 3
    assert scores[recent].mean() > scores[~recent].mean()


def test_model_round_trips_and_refuses_unfitted_use(tmp_path: Path) -> None:
    train = load_hillstrom(write_hillstrom(tmp_path / "train.csv", 800, seed=5))
    with pytest.raises(RuntimeError):
        UpliftModel("t_learner").predict(train.features)
    with pytest.raises(ValueError, match="unknown uplift method"):
        UpliftModel("magic")
    model = UpliftModel("s_learner").fit(train.features, train.treated, train.outcome)
    again = UpliftModel.from_bytes(model.to_bytes())
    assert np.allclose(again.predict(train.features), model.predict(train.features))
    with pytest.raises(ValueError, match="treated group"):
        UpliftModel("t_learner").fit(train.features, train.treated, np.zeros(len(train), dtype=int))


def test_choose_replaces_the_first_candidate_only_when_it_clearly_loses(tmp_path: Path) -> None:
    train = load_hillstrom(write_hillstrom(tmp_path / "train.csv", 1500, seed=6))
    weak_first = (("t_learner", {"n_estimators": 1}), ("two_model_lr", {}))  # one tree barely learns anything
    choice = choose(train.features, train.treated, train.outcome, repeats=1, folds=3, candidates=weak_first)
    assert set(choice.validation) == {"two_model_lr", "t_learner n_estimators=1"}
    assert choice.noise is not None and 0 < choice.noise < 0.1
    assert (choice.method, choice.params) == ("two_model_lr", {})
    weak, strong = choice.validation["t_learner n_estimators=1"] or 0, choice.validation["two_model_lr"] or 0
    assert strong - weak > choice.noise
    # with one message arms_lr is two_model_lr: a tie, and a tie keeps the first
    same = (("arms_lr", {}), ("two_model_lr", {}))
    tie = choose(train.features, train.treated, train.outcome, repeats=1, folds=3, candidates=same)
    assert tie.validation["arms_lr"] == tie.validation["two_model_lr"] and tie.method == "arms_lr"


def test_arms_lr_models_each_message_apart(tmp_path: Path) -> None:
    train = load_hillstrom(write_hillstrom(tmp_path / "train.csv", 6000, seed=10))
    fresh = load_hillstrom(write_hillstrom(tmp_path / "fresh.csv", 3000, seed=11))
    by_arm = UpliftModel("arms_lr").fit(train.features, train.arms, train.outcome)
    scores = by_arm.predict(fresh.features)
    recent = fresh.features["recency"].to_numpy() <= 3
    # each e-mail lifts its own buyers by 0.30 and the others by 0.05 (half the treated each): 0.175
    # on average, plus a step of 0.2 for the recent (which a line in recency only approaches)
    assert scores.mean() == pytest.approx(0.175 + 0.2 * recent.mean(), abs=0.03)
    assert scores[recent].mean() > scores[~recent].mean() + 0.1
    flag = UpliftModel("arms_lr").fit(train.features, train.treated, train.outcome).predict(fresh.features)
    pooled = UpliftModel("two_model_lr").fit(train.features, train.treated, train.outcome).predict(fresh.features)
    assert np.allclose(flag, pooled)  # one message: the same model
    never = np.where(train.arms == 2, 0, train.outcome)  # nobody visited after the women's e-mail
    with pytest.raises(ValueError, match="arm 2"):
        UpliftModel("arms_lr").fit(train.features, train.arms, never)


def test_uplift_suite_reports_the_figure_beside_its_baselines(tmp_path: Path) -> None:
    train = write_hillstrom(tmp_path / "train.csv", 1200, seed=7)
    data = write_hillstrom(tmp_path / "data.csv", 900, seed=8)
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = run_suite("uplift", RunOptions(settings=settings, train=train, data=data))
    summary = report.summary
    assert {"uplift_top30", "uplift_top30_random", "uplift_top30_two_model_lr", "uplift_top30_seed_std"} <= set(summary)
    assert summary["n"] == 900
    assert summary["uplift_top30"] > summary["uplift_top30_random"]  # the recent customers are findable
    assert str(data) in report.data
    assert report.metrics["chosen"] in report.metrics["validation_uplift_top30"]
    assert report.thresholds.get("uplift_top30") == pytest.approx(0.085)


def test_experiment_suites_skip_without_files_and_refuse_foreign_ones(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    for suite in ("uplift", "bandit", "response"):
        with pytest.raises(SuiteSkipped, match="not found"):
            run_suite(suite, RunOptions(settings=settings, train=tmp_path / "absent.csv"))
    bank = write_bank(tmp_path / "bank.csv", 50, seed=9)  # a Bank Marketing file given to a Hillstrom suite
    with pytest.raises(ValueError, match="lacks the column"):
        run_suite("uplift", RunOptions(settings=settings, train=bank))
