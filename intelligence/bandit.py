"""Adaptive allocation: send more of the next batch to the variants that are winning.

A campaign in adaptive mode sends in batches. Before each batch it hands :func:`next_batch` the
sends and successes of every arm so far; Thompson sampling on Beta posteriors splits the batch in
proportion to each variant's probability of being the best, a fixed share always goes to the
control (the holdout the report measures lift against), and once one variant is the best with
probability >= ``threshold`` (95 %, as Braze does) the test stops and every non-control recipient
gets the winner. :class:`BatchPlan` is what a report keeps per batch: allocation over time.

Where contacts have features, :class:`ContextualThompson` keeps a Beta posterior per arm for each
cell of contacts (e.g. "bought men's only") that starts from the arm's pooled posterior, so a cell
with little data behaves like the whole population and a cell with much data follows its own.
:mod:`intelligence.replay` measures both on logged experiments.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Posterior draws behind a probability of being best (its error is below 1 point at 4,000).
DRAWS = 4000
STOP_THRESHOLD = 0.95


@dataclass(frozen=True)
class ArmStats:
    """What one arm has seen so far: messages sent and successes (visits, clicks, conversions)."""

    sends: int
    successes: int

    def __post_init__(self) -> None:
        if self.sends < 0 or not 0 <= self.successes <= self.sends:
            raise ValueError(f"an arm needs 0 <= successes <= sends, got {self.successes}/{self.sends}")


def _posterior_draws(stats: Sequence[ArmStats], draws: int, rng: np.random.Generator) -> np.ndarray:
    successes = np.array([s.successes for s in stats], dtype=float)
    failures = np.array([s.sends - s.successes for s in stats], dtype=float)
    return rng.beta(1.0 + successes, 1.0 + failures, size=(draws, len(stats)))


def probability_best(stats: Sequence[ArmStats], *, draws: int = DRAWS,
                     rng: np.random.Generator | None = None) -> list[float]:
    """Each arm's posterior probability (Beta(1 + successes, 1 + failures)) of having the highest rate."""
    if not stats:
        return []
    samples = _posterior_draws(stats, draws, rng or np.random.default_rng())
    wins = np.bincount(samples.argmax(axis=1), minlength=len(stats))
    return [round(float(w) / draws, 4) for w in wins]


@dataclass(frozen=True)
class BatchPlan:
    """How many of the next batch each arm gets, and why.

    ``counts`` per arm (summing to the batch size), ``probability_best`` among the variants (the
    control's entry is 0: it is not competing), ``winner`` the arm index once the stopping rule
    fired (else None), and the ``stats`` the plan was made from, so a list of plans is the
    campaign's allocation history.
    """

    counts: list[int]
    probability_best: list[float]
    winner: int | None
    stats: list[ArmStats]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def control_size(size: int, control_share: float) -> int:
    """How many of a batch of ``size`` the control keeps: ``control_share`` of it, rounded half to even (10 % of
    5 is none). One rule for the split and for the campaign wizard's plan of who gets a message."""
    return round(size * control_share)


def next_batch(stats: Sequence[ArmStats], size: int, *, control: int | None = 0, control_share: float = 0.1,
               threshold: float = STOP_THRESHOLD, rng: np.random.Generator | None = None) -> BatchPlan:
    """Split the next ``size`` recipients among the arms of ``stats`` (one entry per arm).

    ``control`` is the index of the holdout arm (None: no control) and keeps ``control_share`` of
    every batch, rounded; the variants share the rest by Thompson sampling (each recipient's arm
    is the best of one posterior draw), or all of it goes to the winner once one variant's
    probability of being best reaches ``threshold``. Raises ``ValueError`` for fewer than one
    variant, a negative size or a share outside [0, 1).
    """
    if size < 0 or not 0.0 <= control_share < 1.0:
        raise ValueError("size must be >= 0 and control_share in [0, 1)")
    variants = [i for i in range(len(stats)) if i != control]
    if not variants:
        raise ValueError("an adaptive test needs at least one variant besides the control")
    rng = rng or np.random.default_rng()
    held_out = control_size(size, control_share) if control is not None else 0
    chances = probability_best([stats[i] for i in variants], rng=rng)
    best = int(np.argmax(chances))
    winner = variants[best] if chances[best] >= threshold else None
    counts = [0] * len(stats)
    if control is not None:
        counts[control] = held_out
    if winner is not None:
        counts[winner] = size - held_out
    else:
        picks = _posterior_draws([stats[i] for i in variants], size - held_out, rng).argmax(axis=1)
        for position, n in enumerate(np.bincount(picks, minlength=len(variants))):
            counts[variants[position]] = int(n)
    shown = [0.0] * len(stats)
    for position, arm in enumerate(variants):
        shown[arm] = chances[position]
    return BatchPlan(counts, shown, winner, list(stats))


class Policy(ABC):
    """A bandit policy over ``n_arms`` arms that sees a context per recipient (possibly none).

    :meth:`encode` turns a feature frame into the policy's context rows once; :meth:`choose` picks
    an arm for each row of a batch (the policy does not change between two updates, so a batch is
    drawn at once); :meth:`update` learns from a batch of (context, arm, reward).
    """

    def __init__(self, n_arms: int) -> None:
        self.n_arms = n_arms

    def encode(self, features: pd.DataFrame) -> np.ndarray:
        """Context rows of ``features`` (none by default: a context-free policy)."""
        return np.zeros((len(features), 1), dtype=np.int64)

    @abstractmethod
    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An arm for each recipient (row of ``contexts``)."""

    @abstractmethod
    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from the rewards of a batch of recipients."""


class ThompsonPolicy(Policy):
    """Thompson sampling on Beta(1, 1) posteriors, one per arm, for everyone alike."""

    def __init__(self, n_arms: int) -> None:
        super().__init__(n_arms)
        self.successes = np.zeros(n_arms)
        self.sends = np.zeros(n_arms)

    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        draws = rng.beta(1.0 + self.successes, 1.0 + self.sends - self.successes, size=(len(contexts), self.n_arms))
        return np.asarray(draws.argmax(axis=1))

    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        np.add.at(self.sends, arms, 1)
        np.add.at(self.successes, arms, rewards)


@dataclass
class ContextualThompson(Policy):
    """Thompson sampling per cell of contacts, each cell's prior drawn towards the pooled arm rate.

    A cell is a combination of the values of ``keys`` (feature columns). Arm ``a`` in cell ``c``
    samples from Beta(1 + s_ca + k p_a, 1 + f_ca + k (1 - p_a)) where ``p_a`` is the arm's pooled
    rate over every cell and ``k`` = ``prior_strength`` pseudo-sends: a new cell starts as the
    population, a well-observed one follows its own data. Serialisable (:meth:`to_json`).
    """

    n_arms: int
    keys: tuple[str, ...]
    prior_strength: float = 20.0
    cells: dict[str, int] = field(default_factory=dict)
    sends: list[list[float]] = field(default_factory=list)
    successes: list[list[float]] = field(default_factory=list)
    _cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

    def _cell(self, label: str) -> int:
        if label not in self.cells:
            self.cells[label] = len(self.cells)
            self.sends.append([0.0] * self.n_arms)
            self.successes.append([0.0] * self.n_arms)
            self._cache.clear()
        return self.cells[label]

    def encode(self, features: pd.DataFrame) -> np.ndarray:
        """Each contact's cell index (new cells are added, starting from the pooled prior)."""
        labels = pd.Series([""] * len(features), index=features.index)
        for key in self.keys:
            labels = labels + "|" + features[key].astype(str)
        codes, uniques = pd.factorize(labels)
        cells = np.array([self._cell(str(label)) for label in uniques], dtype=np.int64)
        return cells[codes].reshape(-1, 1)

    def _parameters(self, cell: int) -> tuple[np.ndarray, np.ndarray]:
        if cell in self._cache:  # posteriors change only on update: one batch of draws reuses them
            return self._cache[cell]
        sends, successes = np.asarray(self.sends), np.asarray(self.successes)
        pooled = (1.0 + successes.sum(axis=0)) / (2.0 + sends.sum(axis=0))
        alpha = 1.0 + successes[cell] + self.prior_strength * pooled
        beta = 1.0 + sends[cell] - successes[cell] + self.prior_strength * (1.0 - pooled)
        self._cache[cell] = (alpha, beta)
        return alpha, beta

    def choose(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cells = contexts[:, 0]
        alpha = np.empty((len(cells), self.n_arms))
        beta = np.empty_like(alpha)
        for cell in np.unique(cells):
            rows = cells == cell
            alpha[rows], beta[rows] = self._parameters(int(cell))
        return np.asarray(rng.beta(alpha, beta).argmax(axis=1))

    def assign(self, features: pd.DataFrame, rng: np.random.Generator | None = None) -> list[int]:
        """An arm for each contact of ``features`` (one posterior draw each)."""
        return [int(arm) for arm in self.choose(self.encode(features), rng or np.random.default_rng())]

    def update(self, contexts: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        for cell, arm, reward in zip(contexts[:, 0], arms, rewards, strict=True):
            self.sends[int(cell)][int(arm)] += 1
            self.successes[int(cell)][int(arm)] += float(reward)
        self._cache.clear()

    def to_json(self) -> str:
        """The policy's state (cells and counts) as JSON."""
        return json.dumps({k: v for k, v in asdict(self).items() if k != "_cache"})

    @classmethod
    def from_json(cls, text: str) -> ContextualThompson:
        """A policy written by :meth:`to_json`."""
        data = json.loads(text)
        data["keys"] = tuple(data["keys"])
        return cls(**data)
