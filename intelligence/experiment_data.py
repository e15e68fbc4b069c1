"""Experiment data sets the uplift, bandit and response models are developed and measured on.

Two public formats, read the same way by the evaluation suites and the tests:

* **Hillstrom** (MineThatData e-mail challenge, 2008): one customer a row, randomly sent a men's
  e-mail, a women's e-mail or nothing (``segment``), with ``visit``/``conversion``/``spend`` in the
  two weeks after. A randomised experiment with a real control: uplift and off-policy replay.
* **Bank Marketing** (UCI ``bank-additional``, semicolon-separated): phone-campaign contacts and
  whether they subscribed (``y``). ``duration`` (the call's length) is only known after the call,
  so it is dropped on reading: a model that sees it predicts the past.

Loaders return model-ready frames: numeric columns as numbers, text columns as pandas
``category`` (LightGBM splits on them natively; :func:`one_hot` serves linear models).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Hillstrom's arms as the file spells them; the first is the no-e-mail control.
HILLSTROM_ARMS: tuple[str, ...] = ("No E-Mail", "Mens E-Mail", "Womens E-Mail")
HILLSTROM_CONTROL = HILLSTROM_ARMS[0]
#: Customer features known before the send (``history_segment`` is ``history`` binned: left out).
HILLSTROM_FEATURES: tuple[str, ...] = ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel")
_HILLSTROM_COLUMNS = (*HILLSTROM_FEATURES, "segment", "visit")
_HILLSTROM_CATEGORICAL = ("zip_code", "channel")

#: Bank Marketing's client, contact and economic features (never ``duration``).
BANK_FEATURES: tuple[str, ...] = (
    "age", "job", "marital", "education", "default", "housing", "loan", "contact", "month", "day_of_week",
    "campaign", "pdays", "previous", "poutcome", "emp.var.rate", "cons.price.idx", "cons.conf.idx",
    "euribor3m", "nr.employed",
)
BANK_LEAK = "duration"
_BANK_CATEGORICAL = ("job", "marital", "education", "default", "housing", "loan", "contact", "month",
                     "day_of_week", "poutcome")
#: ``pdays`` when the client was never contacted before: a flag, not a number of days.
BANK_NEVER_CONTACTED = 999


@dataclass(frozen=True)
class Experiment:
    """A logged randomised experiment: features, the arm each customer got, and the outcome.

    ``arms`` holds arm indexes into ``arm_names`` (0 is the control); ``outcome`` is 0/1.
    """

    features: pd.DataFrame
    arms: np.ndarray
    outcome: np.ndarray
    arm_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.outcome)

    @property
    def treated(self) -> np.ndarray:
        """1 where the customer got any message (any arm but the control), else 0."""
        return (self.arms != 0).astype(np.int8)

    def take(self, rows: np.ndarray) -> Experiment:
        """The experiment restricted to ``rows`` (positions), in that order."""
        return Experiment(self.features.iloc[rows].reset_index(drop=True), self.arms[rows], self.outcome[rows],
                          self.arm_names)


@dataclass(frozen=True)
class Responses:
    """Contacts' features and whether each responded (0/1) to the campaign."""

    features: pd.DataFrame
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.outcome)

    def take(self, rows: np.ndarray) -> Responses:
        """The responses restricted to ``rows`` (positions), in that order."""
        return Responses(self.features.iloc[rows].reset_index(drop=True), self.outcome[rows])


def _require(frame: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s): {', '.join(missing)}")


def load_hillstrom(path: Path) -> Experiment:
    """Read a Hillstrom-format CSV; raises ``ValueError`` naming a missing column or unknown arm."""
    frame = pd.read_csv(path)
    _require(frame, _HILLSTROM_COLUMNS, path)
    unknown = sorted(set(frame["segment"]) - set(HILLSTROM_ARMS))
    if unknown:
        raise ValueError(f"{path}: unknown segment(s) {unknown}; expected {list(HILLSTROM_ARMS)}")
    features = frame.loc[:, list(HILLSTROM_FEATURES)].copy()
    for column in _HILLSTROM_CATEGORICAL:
        features[column] = features[column].astype("category")
    arms = frame["segment"].map({name: i for i, name in enumerate(HILLSTROM_ARMS)}).to_numpy(np.int64)
    return Experiment(features, arms, frame["visit"].to_numpy(np.int8), HILLSTROM_ARMS)


def load_bank(path: Path) -> Responses:
    """Read a Bank-Marketing-format file (``;``-separated, ``y`` yes/no), ``duration`` dropped.

    Raises ``ValueError`` naming a missing column or a ``y`` value other than yes/no.
    """
    frame = pd.read_csv(path, sep=";")
    _require(frame, (*BANK_FEATURES, "y"), path)
    answers = frame["y"].astype(str).str.strip().str.lower()
    if not answers.isin(("yes", "no")).all():
        raise ValueError(f"{path}: column y must hold yes/no")
    features = frame.loc[:, list(BANK_FEATURES)].copy()
    for column in _BANK_CATEGORICAL:
        features[column] = features[column].astype("category")
    return Responses(features, (answers == "yes").to_numpy(np.int8))


def one_hot(features: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Categorical columns one-hot encoded, as float; ``columns`` aligns a new frame on a fitted one."""
    encoded = pd.get_dummies(features, dtype=float)
    if columns is not None:
        encoded = encoded.reindex(columns=columns, fill_value=0.0)
    return encoded.astype(float)


def split_rows(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)``: (the rest, ``share`` of the rows), both shuffled."""
    order = np.random.default_rng(seed).permutation(n)
    cut = n - round(n * share)
    return order[:cut], order[cut:]
