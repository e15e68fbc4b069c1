"""Campaign response propensity: how likely each contact is to say yes to this campaign.

LightGBM on the contact's attributes, the campaign's contact history and the economic context,
categorical columns split natively (no one-hot), trained on past campaigns' outcomes. Developed on
UCI Bank Marketing without ``duration`` (known only after the call). ``pdays = 999`` means
"never contacted before": it becomes a missing value plus a flag, so trees do not read it as
"999 days ago".

:func:`choose` picks the tree shape on a validation split carved from the training data, with
the number of trees set there by early stopping; :class:`ResponseModel` then refits on all of it
and averages a few seeds (row and column sampling differ), which steadies the ranking.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from intelligence.experiment_data import BANK_NEVER_CONTACTED, split_rows
from intelligence.model_bytes import StoredModel

BASE_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.7,
    "reg_lambda": 1.0, "verbose": -1, "n_jobs": 1, "cat_smooth": 20, "max_cat_to_onehot": 8,
}
#: Tree shapes :func:`choose` tries (leaves x rows per leaf).
GRID: dict[str, tuple[Any, ...]] = {"num_leaves": (7, 15), "min_child_samples": (50, 200)}
MAX_TREES = 1000


def prepare(features: pd.DataFrame) -> pd.DataFrame:
    """The model's columns: ``pdays`` 999 as missing plus a ``never_contacted`` flag when present."""
    frame = features.copy()
    if "pdays" in frame:
        never = frame["pdays"] == BANK_NEVER_CONTACTED
        frame["never_contacted"] = never.astype(int)
        frame["pdays"] = frame["pdays"].where(~never)
    return frame


@dataclass
class ResponseModel(StoredModel):
    """Response propensity: :meth:`fit` on past outcomes, :meth:`predict` P(yes) for contacts.

    ``params`` override :data:`BASE_PARAMS` (``n_estimators`` included); one booster per seed of
    ``seeds``, their probabilities averaged.
    """

    params: dict[str, Any] = field(default_factory=lambda: {"num_leaves": 15, "min_child_samples": 200,
                                                            "n_estimators": 400})
    seeds: tuple[int, ...] = (0, 1, 2)
    columns: list[str] = field(default_factory=list)
    categories: dict[str, list[Any]] = field(default_factory=dict)
    _models: list[lgb.LGBMClassifier] = field(default_factory=list, repr=False)

    def _frame(self, features: pd.DataFrame) -> pd.DataFrame:
        frame = prepare(features).loc[:, self.columns]
        for column, values in self.categories.items():  # unseen values become missing, as LightGBM expects
            known = frame[column].astype(object)
            frame[column] = pd.Categorical(known.where(known.isin(values)), categories=values)
        return frame

    def learn_columns(self, features: pd.DataFrame) -> ResponseModel:
        """Remember the columns and each categorical column's values (later frames are aligned on them)."""
        frame = prepare(features)
        self.columns = list(frame.columns)
        self.categories = {c: list(frame[c].astype("category").cat.categories)
                           for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])}
        return self

    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> ResponseModel:
        """Learn from past contacts' ``features`` and ``outcome`` (1 responded, 0 not)."""
        if len(set(np.asarray(outcome).tolist())) < 2:
            raise ValueError("the outcome needs responders and non-responders")
        frame = self.learn_columns(features)._frame(features)
        self._models = [lgb.LGBMClassifier(**{**BASE_PARAMS, **self.params, "random_state": seed}).fit(frame, outcome)
                        for seed in self.seeds]
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """P(respond) of each contact (the seeds' boosters averaged)."""
        return np.asarray(np.mean(self.predict_each(features), axis=0))

    def predict_each(self, features: pd.DataFrame) -> list[np.ndarray]:
        """P(respond) by each seed's booster (their spread says how much the seed matters)."""
        if not self._models:
            raise RuntimeError("fit the response model before predicting")
        frame = self._frame(features)
        return [np.asarray(m.predict_proba(frame))[:, 1] for m in self._models]


@dataclass(frozen=True)
class Choice:
    """The parameters :func:`choose` kept and each grid point's validation AUC and best tree count."""

    params: dict[str, Any]
    validation: dict[str, dict[str, float]]


def choose(features: pd.DataFrame, outcome: np.ndarray, *, seed: int = 0, validation_share: float = 0.2,
           grid: dict[str, tuple[Any, ...]] = GRID, max_trees: int = MAX_TREES) -> Choice:
    """The grid point with the best validation AUC, its tree count found by early stopping there.

    The validation split (``validation_share``, seeded) is carved from the data given, which must
    be training data only.
    """
    outcome = np.asarray(outcome)
    fit_rows, check_rows = split_rows(len(outcome), validation_share, seed)
    layout = ResponseModel().learn_columns(features)
    train, check = layout._frame(features.iloc[fit_rows]), layout._frame(features.iloc[check_rows])
    results: dict[str, dict[str, float]] = {}
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    for values in itertools.product(*grid.values()):
        shape = dict(zip(grid, values, strict=True))
        booster = lgb.LGBMClassifier(**{**BASE_PARAMS, **shape, "n_estimators": max_trees, "random_state": seed})
        booster.fit(train, outcome[fit_rows], eval_X=(check,), eval_y=(outcome[check_rows],), eval_metric="auc",
                    callbacks=[lgb.early_stopping(100, verbose=False)])
        trees = int(booster.best_iteration_ or max_trees)
        scores = np.asarray(booster.predict_proba(check, num_iteration=trees))[:, 1]
        auc = float(roc_auc_score(outcome[check_rows], scores))
        name = " ".join(f"{k}={v}" for k, v in shape.items())
        results[name] = {"auc": round(auc, 4), "trees": trees}
        if auc > best[0]:
            best = (auc, {**shape, "n_estimators": trees})
    return Choice(best[1], results)
