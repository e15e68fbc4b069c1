"""The learners the deployment's response model is chosen among, simplest first, and how the choice is made.

* ``history_rate``: the contact's own share of texts responded to, shrunk toward the deployment's rate
  with the weight of :data:`PRIOR_TEXTS` texts (a never-texted contact gets the deployment's rate);
* ``logistic``: a logistic regression on the features (counts and days log-scaled, a missing value
  imputed with the median and flagged);
* ``lightgbm``: :class:`intelligence.response.ResponseModel` (the model measured on Bank Marketing), small
  trees with at least max(20, n/50) texts a leaf, three seeds averaged.

:func:`choose` carves the past in time: the newest campaigns (at least :data:`CHOOSING_SHARE` of the
texts) are the ones to choose on, the older ones whose response window closed before the newest began
are the ones to learn from. Each learner learns from the older and is judged by its AUC on the newest;
the simplest is kept unless another leads it by more than the AUC's standard error (Hanley & McNeil),
since most gaps on a few hundred texts are noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.response import ResponseModel
from intelligence.response_features import COLUMNS, WINDOW

SIMPLEST = "history_rate"
LEARNERS = (SIMPLEST, "logistic", "lightgbm")
PRIOR_TEXTS = 2.0
CHOOSING_SHARE = 0.2
#: texts a learner learns from, or is judged on, at most: above it a seeded sample (1.2 million texts took 115 s
#: of CPU to choose and fit in full, docs/intelligence.md; a sample this size ranks as well within the noise)
MAX_ROWS = 200_000
#: responses and non-responses each part of the time split needs before learners are compared
MIN_COMPARED = 10
SHARES = ("response_share", "weekday_share", "hour_gap")  # already on a small scale: not log-scaled


class Learner(Protocol):
    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> Any: ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


class HistoryRate:
    """The contact's own response share, shrunk toward the deployment's rate."""

    def __init__(self) -> None:
        self.rate = 0.0

    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> HistoryRate:
        self.rate = float(np.mean(outcome))
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        texts, responded = features["texts"].to_numpy(float), features["responded_texts"].to_numpy(float)
        return np.asarray((responded + PRIOR_TEXTS * self.rate) / (texts + PRIOR_TEXTS))


class Logistic:
    """Logistic regression on log-scaled counts and days, missing values imputed and flagged."""

    def __init__(self) -> None:
        self.model = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                                   StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))  # fmt: skip

    @staticmethod
    def _scaled(features: pd.DataFrame) -> pd.DataFrame:
        frame = features.loc[:, list(COLUMNS)].copy()
        counts = [c for c in COLUMNS if c not in SHARES]
        frame[counts] = np.log1p(frame[counts].clip(lower=0))
        return frame

    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> Logistic:
        self.model.fit(self._scaled(features), outcome)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._scaled(features))[:, 1])


def make(name: str, rows: int) -> Learner:
    """A fresh learner ``name`` for ``rows`` training texts."""
    if name == SIMPLEST:
        return HistoryRate()
    if name == "logistic":
        return Logistic()
    if name == "lightgbm":
        params = {"num_leaves": 7, "min_child_samples": max(20, rows // 50), "n_estimators": 200}
        return _Trees(ResponseModel(params=params, seeds=(0, 1, 2)))
    raise ValueError(f"unknown response learner {name!r}")


@dataclass
class _Trees:
    model: ResponseModel

    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> _Trees:
        self.model.fit(features.loc[:, list(COLUMNS)], outcome)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict(features.loc[:, list(COLUMNS)])


def auc_noise(auc: float, positives: int, negatives: int) -> float:
    """Standard error of an AUC measured on ``positives`` and ``negatives`` (Hanley & McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)  # fmt: skip
    return math.sqrt(max(variance, 0.0))


@dataclass(frozen=True)
class Choice:
    """The learner kept, each candidate's AUC on the newest campaigns, the noise and how it was chosen."""

    learner: str
    reason: str
    validation: dict[str, float] = field(default_factory=dict)
    noise: float | None = None
    split: dict[str, Any] = field(default_factory=dict)


def sample(mask: np.ndarray, limit: int | None = None, seed: int = 0) -> np.ndarray:
    """``mask`` with at most ``limit`` (default :data:`MAX_ROWS`) rows kept, a seeded random sample when more."""
    limit = MAX_ROWS if limit is None else limit
    kept = np.flatnonzero(mask)
    if len(kept) <= limit:
        return np.asarray(mask, dtype=bool)
    out = np.zeros(len(mask), dtype=bool)
    out[np.random.default_rng(seed).choice(kept, size=limit, replace=False)] = True
    return out


def time_split(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the rows to learn from and to choose on: the newest campaigns (by first text) holding at
    least :data:`CHOOSING_SHARE` of the texts to choose on, the older campaigns' texts whose window closed
    before the newest began to learn from. ``rows`` need ``campaign`` and ``seconds``."""
    starts = rows.groupby("campaign")["seconds"].min().sort_values(kind="stable")
    sizes = rows.groupby("campaign").size().reindex(starts.index)
    newest: list[int] = []
    for campaign in reversed(starts.index.tolist()[1:]):  # the oldest campaign is always learnt from
        newest.append(campaign)
        if sizes.loc[newest].sum() >= CHOOSING_SHARE * len(rows):
            break
    choosing = rows["campaign"].isin(newest).to_numpy()
    begins = rows.loc[choosing, "seconds"].min() if choosing.any() else np.inf
    learning = ~choosing & (rows["seconds"].to_numpy() + WINDOW <= begins)
    return learning, choosing


def choose(rows: pd.DataFrame) -> Choice:
    """The learner for ``rows`` (:func:`intelligence.response_features.training_rows`), chosen on a split in time."""
    learning, choosing = (sample(part) for part in time_split(rows))
    outcome = rows["responded"].to_numpy()
    split = {"learn_texts": int(learning.sum()), "choose_texts": int(choosing.sum()),
             "choose_campaigns": int(rows.loc[choosing, "campaign"].nunique()),
             "choose_from": pd.Timestamp(int(rows.loc[choosing, "seconds"].min()), unit="s").isoformat()
             if choosing.any() else None}  # fmt: skip
    fewest = min(int(outcome[part].sum()) for part in (learning, choosing))
    fewest = min(fewest, *(int((1 - outcome[part]).sum()) for part in (learning, choosing)))
    if fewest < MIN_COMPARED:
        return Choice(
            SIMPLEST,
            f"learners not compared: the split in time leaves {fewest} responses or non-responses "
            f"in a part ({MIN_COMPARED} are needed): the simplest, {SIMPLEST}",
            split=split,
        )
    check = outcome[choosing]
    figures: dict[str, float] = {}
    for name in LEARNERS:
        model = make(name, int(learning.sum())).fit(rows[learning], outcome[learning])
        figures[name] = round(float(roc_auc_score(check, model.predict(rows[choosing]))), 4)
    best = max(LEARNERS, key=lambda name: figures[name])
    noise = round(auc_noise(figures[SIMPLEST], int(check.sum()), int((1 - check).sum())), 4)
    kept = best if figures[best] - figures[SIMPLEST] > noise else SIMPLEST
    return Choice(
        kept,
        f"AUC on the newest {split['choose_campaigns']} campaigns ({split['choose_texts']} texts) after "
        f"learning from the {split['learn_texts']} texts before them; {SIMPLEST} kept unless another "
        f"led it by more than the AUC's standard error ({noise})",
        figures,
        noise,
        split,
    )
