"""Off-policy evaluation of bandit policies on a logged randomised experiment (replay).

Li, Chu, Langford & Wang (WSDM 2011): walk the logged rows in a random order; at each row the
policy picks an arm for that customer; when it is the arm the customer really got, the row counts
(its reward is what that policy would have seen) and the policy learns from it, in batches as a
campaign would; otherwise the row is skipped. With arms logged uniformly at random (Hillstrom:
a third each) the rate over counted rows is an unbiased estimate of the policy's rate. The
baselines a policy must beat live here too: a fixed arm, and an A/B test then commit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from intelligence.bandit import ContextualThompson, Policy
from intelligence.experiment_data import Experiment


@dataclass(frozen=True)
class ReplayResult:
    """Rows counted (the policy's choice was the logged arm), their successes, and per-arm counts."""

    matched: int
    successes: int
    arm_counts: list[int]

    @property
    def rate(self) -> float | None:
        """Success rate over the counted rows; None (n/a) when none matched."""
        return self.successes / self.matched if self.matched else None


def replay(policy: Policy, experiment: Experiment, *, seed: int, batch: int = 100) -> ReplayResult:
    """Replay ``policy`` over ``experiment`` in a seeded random order, updating it every ``batch`` counted rows.

    Between two updates the policy is fixed, so its choices for the rows up to the next update
    are drawn at once; the result is the row-by-row walk's.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(experiment))
    contexts = policy.encode(experiment.features.iloc[order])
    logged, outcome = experiment.arms[order], experiment.outcome[order]
    kept: list[np.ndarray] = []
    start = 0
    while start < len(order):
        # about batch / share-of-matches rows hold the next batch; draw a few more and cut at the batch-th match
        stop = min(len(order), start + 4 * batch * len(experiment.arm_names))
        matched = start + np.flatnonzero(policy.choose(contexts[start:stop], rng) == logged[start:stop])
        if len(matched) >= batch:
            matched, stop = matched[:batch], int(matched[batch - 1]) + 1
            policy.update(contexts[matched], logged[matched], outcome[matched])
        kept.append(matched)
        start = stop
    rows = np.concatenate(kept) if kept else np.array([], dtype=np.int64)
    counts = np.bincount(logged[rows], minlength=len(experiment.arm_names))
    return ReplayResult(len(rows), int(outcome[rows].sum()), [int(c) for c in counts])


class FixedArm(Policy):
    """Always the same arm (its replay rate is that arm's logged rate)."""

    def __init__(self, n_arms: int, arm: int) -> None:
        super().__init__(n_arms)
        self.arm = arm

    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.full(len(contexts), self.arm)

    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        """A fixed arm learns nothing."""


class ABThenCommit(Policy):
    """An A/B test (arms uniformly at random) until ``test_sends`` results are in, then the best arm for everyone.

    How most tools run a test: a test group (e.g. 20 % of the audience), a winner on its observed
    rate, the winner to the rest.
    """

    def __init__(self, n_arms: int, test_sends: int) -> None:
        super().__init__(n_arms)
        self.test_sends = test_sends
        self.sends = np.zeros(n_arms)
        self.successes = np.zeros(n_arms)

    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.sends.sum() < self.test_sends:
            return rng.integers(self.n_arms, size=len(contexts))
        return np.full(len(contexts), int(np.argmax(self.successes / np.maximum(self.sends, 1))))

    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        np.add.at(self.sends, arms, 1)
        np.add.at(self.successes, arms, rewards)


class WithControl(Policy):
    """A fixed ``share`` of recipients to the ``control`` arm; ``inner`` (built over the other arms) picks for the rest.

    The product's adaptive mode: the holdout stays random so the lift over control stays
    measurable, whatever the bandit learns.
    """

    def __init__(self, n_arms: int, inner: Policy, *, control: int = 0, share: float = 0.1) -> None:
        super().__init__(n_arms)
        self.inner, self.control, self.share = inner, control, share
        self.variants = np.array([arm for arm in range(n_arms) if arm != control])

    def encode(self, features: pd.DataFrame) -> np.ndarray:
        return self.inner.encode(features)

    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        arms = self.variants[self.inner.choose(contexts, rng)]
        arms[rng.random(len(contexts)) < self.share] = self.control
        return arms

    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        variant = arms != self.control
        inner_arms = np.searchsorted(self.variants, arms[variant])
        self.inner.update(contexts[variant], inner_arms, rewards[variant])


def arm_rates(experiment: Experiment) -> list[float | None]:
    """Each arm's logged success rate (None for an arm no row got)."""
    rates: list[float | None] = []
    for arm in range(len(experiment.arm_names)):
        rows = experiment.arms == arm
        rates.append(float(experiment.outcome[rows].mean()) if rows.any() else None)
    return rates


#: Cells (feature columns) and prior strengths :func:`choose_contextual` tries; no cells is plain Thompson.
CONTEXTUAL_GRID: tuple[tuple[tuple[str, ...], float], ...] = tuple(
    (keys, prior) for keys in ((), ("mens", "womens"), ("mens", "womens", "newbie")) for prior in (0.0, 20.0)
)


def _halves(experiment: Experiment) -> tuple[Experiment, Experiment]:
    half = len(experiment) // 2
    return experiment.take(np.arange(half)), experiment.take(np.arange(half, len(experiment)))


def warm_policy(keys: tuple[str, ...], prior: float, history: Experiment) -> ContextualThompson:
    """A contextual policy that starts from a past campaign with the same arms (``history``)."""
    policy = ContextualThompson(len(history.arm_names), keys, prior)
    policy.update(policy.encode(history.features), history.arms, history.outcome)
    return policy


def choose_contextual(experiment: Experiment, *, warm: bool = False, seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
                      batch: int = 100, grid: tuple[tuple[tuple[str, ...], float], ...] = CONTEXTUAL_GRID,
                      ) -> tuple[tuple[tuple[str, ...], float], dict[str, float]]:
    """The contextual settings with the best mean replay rate on ``experiment`` (training data only).

    The experiment is cut in two halves. Cold (``warm=False``): each half is replayed from a cold
    start with every seed, streams about as long as the one reported. Warm: the policy starts from
    one half's campaign and is replayed on the other. Returns the settings and each point's mean rate.
    """
    halves = _halves(experiment)
    figures: dict[str, float] = {}
    for keys, prior in grid:
        rates = []
        for index, part in enumerate(halves):
            for seed in seeds:
                policy = warm_policy(keys, prior, halves[1 - index]) if warm else \
                    ContextualThompson(len(experiment.arm_names), keys, prior)
                rates.append(replay(policy, part, seed=seed, batch=batch).rate or 0.0)
        figures[contextual_name(keys, prior)] = round(float(np.mean(rates)), 4)
    best = max(grid, key=lambda point: figures[contextual_name(*point)])
    return best, figures


def contextual_name(keys: tuple[str, ...], prior: float) -> str:
    """A readable name of contextual settings (``cells mens+womens, prior 20``)."""
    return f"cells {'+'.join(keys) or 'none'}, prior {prior:g}"
