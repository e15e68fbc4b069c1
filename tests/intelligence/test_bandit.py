"""Adaptive allocation (Thompson on Beta posteriors, control share, stopping rule), the contextual
policy, the replay evaluator on a synthetic experiment whose best arm depends on the customer, and
the ``bandit`` suite on small Hillstrom-format files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from eval.runner import RunOptions, run_suite
from intelligence.bandit import ArmStats, ContextualThompson, ThompsonPolicy, next_batch, probability_best
from intelligence.experiment_data import load_hillstrom
from intelligence.replay import ABThenCommit, FixedArm, WithControl, arm_rates, replay
from tests.intelligence.experiment_helpers import write_hillstrom


def test_probability_best_follows_the_evidence() -> None:
    rng = np.random.default_rng(0)
    clear = probability_best([ArmStats(100, 50), ArmStats(100, 10)], rng=rng)
    assert clear[0] > 0.99 and sum(clear) == pytest.approx(1.0)
    even = probability_best([ArmStats(10, 5), ArmStats(10, 5)], rng=rng)
    assert 0.35 < even[0] < 0.65
    with pytest.raises(ValueError):
        ArmStats(10, 11)


def test_next_batch_keeps_the_control_share_and_stops_on_a_clear_winner() -> None:
    rng = np.random.default_rng(1)
    undecided = next_batch([ArmStats(50, 5), ArmStats(50, 9), ArmStats(50, 8)], 200, control=0,
                           control_share=0.1, rng=rng)
    assert undecided.counts[0] == 20 and sum(undecided.counts) == 200
    assert undecided.winner is None and undecided.counts[1] > 0 and undecided.counts[2] > 0
    assert undecided.probability_best[0] == 0.0  # the control does not compete
    decided = next_batch([ArmStats(2000, 200), ArmStats(2000, 400), ArmStats(2000, 300)], 200, rng=rng)
    assert decided.winner == 1 and decided.counts == [20, 180, 0]
    assert decided.to_dict()["stats"][1] == {"sends": 2000, "successes": 400}
    no_control = next_batch([ArmStats(0, 0), ArmStats(0, 0)], 10, control=None, rng=rng)
    assert sum(no_control.counts) == 10
    with pytest.raises(ValueError):
        next_batch([ArmStats(0, 0)], 10, control=0)


def test_contextual_policy_learns_per_cell_and_round_trips() -> None:
    policy = ContextualThompson(2, ("group",), prior_strength=0.0)
    frame = pd.DataFrame({"group": ["a"] * 400 + ["b"] * 400})
    contexts = policy.encode(frame)
    arms = np.tile([0, 1], 400)
    rewards = np.where(frame["group"] == "a", arms == 0, arms == 1).astype(int)
    policy.update(contexts, arms, rewards)
    picks = np.array(policy.assign(pd.DataFrame({"group": ["a"] * 50 + ["b"] * 50}), np.random.default_rng(2)))
    assert (picks[:50] == 0).all() and (picks[50:] == 1).all()
    again = ContextualThompson.from_json(policy.to_json())
    assert again.cells == policy.cells and again.sends == policy.sends
    new_cell = again.encode(pd.DataFrame({"group": ["c"]}))
    assert int(new_cell[0, 0]) == 2  # an unseen cell starts from the pooled prior


def test_replay_counts_only_matching_rows_and_ranks_policies(tmp_path: Path) -> None:
    experiment = load_hillstrom(write_hillstrom(tmp_path / "h.csv", 6000, seed=3))
    rates = arm_rates(experiment)
    fixed = replay(FixedArm(3, 1), experiment, seed=0)
    assert fixed.matched == int((experiment.arms == 1).sum())
    assert fixed.rate == pytest.approx(rates[1])
    assert fixed.arm_counts == [0, fixed.matched, 0]
    best_single = max(r or 0.0 for r in rates)
    contextual = [replay(ContextualThompson(3, ("womens",), 20.0), experiment, seed=s, batch=50).rate or 0.0
                  for s in range(3)]
    thompson = [replay(ThompsonPolicy(3), experiment, seed=s, batch=50).rate or 0.0 for s in range(3)]
    uniform = float(np.mean([r or 0.0 for r in rates]))
    # each customer type has its own best e-mail: learning who is who beats any single arm
    assert np.mean(contextual) > best_single + 0.03
    assert np.mean(thompson) > uniform + 0.05
    ab = replay(ABThenCommit(3, 300), experiment, seed=0, batch=50)
    assert ab.arm_counts[0] < 200  # the control is dropped after the test
    with_control = replay(WithControl(3, ThompsonPolicy(2), control=0, share=0.2), experiment, seed=0, batch=50)
    assert 0.1 < with_control.arm_counts[0] / with_control.matched < 0.3


def test_bandit_suite_reports_the_rate_beside_its_baselines(tmp_path: Path) -> None:
    train = write_hillstrom(tmp_path / "train.csv", 3000, seed=4)
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    report = run_suite("bandit", RunOptions(settings=settings, train=train))
    summary = report.summary
    assert {"replay_visit_rate", "replay_visit_rate_ab_commit", "replay_visit_rate_thompson",
            "replay_visit_rate_best_arm", "replay_visit_rate_seed_std"} <= set(summary)
    assert summary["n"] == 1000  # a third of the training file, carved for reporting
    assert "carved for reporting" in report.data
    assert report.metrics["chosen"].startswith("cells mens+womens")  # the synthetic context pays
    assert summary["replay_visit_rate"] > summary["replay_visit_rate_best_arm"]
    assert report.thresholds.get("replay_visit_rate") == pytest.approx(0.178)
