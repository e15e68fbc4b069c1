"""Will a customer buy in the next N days? Purchase propensity and churn risk.

``PropensityModel.fit(frame, cutoff)`` learns from the windows whose outcome is known (features at
monthly origins up to ``cutoff - N days``, purchases in the N days after each,
:mod:`intelligence.windows`) and picks among logistic regressions, LightGBM and their mean, each
learning from the latest window alone or from all of them, by AUC on the latest window (rolling
origin); ``predict(frame, at)`` scores the features at ``at``. Churn risk is defined as
``1 - P(buy in the next N days)``: a customer who is not expected to order within the period is
the one to win back (docs/intelligence.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.features import compact_matrix, customer_features, feature_names, rfm_matrix
from intelligence.model_bytes import StoredModel
from intelligence.windows import MAX_WINDOWS, SEED, Windows, training_windows

DEFAULT_HORIZON_DAYS = 90


def _logistic() -> Pipeline:
    return make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))


def _lightgbm() -> lgb.LGBMClassifier:
    # small trees, strong row/column sampling: a few thousand customers, a noisy label
    return lgb.LGBMClassifier(n_estimators=400, learning_rate=0.01, num_leaves=4, min_child_samples=60,
                              subsample=0.8, subsample_freq=1, colsample_bytree=0.7, reg_lambda=5.0,
                              random_state=SEED, verbose=-1, n_jobs=1)


def _full_matrix(features: pd.DataFrame) -> np.ndarray:
    return features.to_numpy(dtype=float)


#: candidate name -> (its input matrix, a fresh estimator)
CANDIDATES: dict[str, tuple[Callable[[pd.DataFrame], np.ndarray], Callable[[], Any]]] = {
    "rfm_logistic": (rfm_matrix, _logistic),
    "logistic": (compact_matrix, _logistic),
    "lightgbm": (_full_matrix, _lightgbm),
}
BLEND = "logistic+lightgbm"  # the mean of the two probabilities


def _fit_predict(
    kind: str, train: pd.DataFrame, label: np.ndarray, score: pd.DataFrame
) -> tuple[list[Any], np.ndarray]:
    parts = ("logistic", "lightgbm") if kind == BLEND else (kind,)
    fitted, probabilities = [], []
    for part in parts:
        matrix, make = CANDIDATES[part]
        estimator = make().fit(matrix(train), label)
        fitted.append(estimator)
        probabilities.append(estimator.predict_proba(matrix(score))[:, 1] if len(score) else np.zeros(0))
    return fitted, np.mean(probabilities, axis=0)


def label(kind: str, windows: int) -> str:
    """A candidate's name in the validation figures: its kind and how many windows it learns from."""
    return f"{kind} × {windows} window{'s' if windows > 1 else ''}"


def validated_auc(windows: Windows, kinds: list[str]) -> dict[str, float]:
    """AUC of each kind × window count on the latest window, trained as :class:`Windows` says."""
    bought = windows.done["bought"].to_numpy(dtype=int)
    judged = windows.judged()
    singles = [kind for kind in kinds if kind != BLEND]
    if BLEND in kinds:
        singles = list(dict.fromkeys([*singles, "logistic", "lightgbm"]))
    scores: dict[str, float] = {}
    for count in windows.window_choices():
        out_of_fold = {kind: np.full(len(bought), np.nan) for kind in singles}
        for train, test in windows.validation_splits(count):
            if len(set(bought[train].tolist())) < 2:
                continue
            for kind in singles:
                _, out_of_fold[kind][test] = _fit_predict(
                    kind, windows.features.iloc[train], bought[train], windows.features.iloc[test])
        if BLEND in kinds:  # the blend's folds are the mean of its parts' folds: no refit
            out_of_fold[BLEND] = (out_of_fold["logistic"] + out_of_fold["lightgbm"]) / 2
        for kind in kinds:
            scored = judged[~np.isnan(out_of_fold[kind][judged])]
            truth = bought[scored]
            if len(set(truth.tolist())) == 2:
                scores[label(kind, count)] = float(roc_auc_score(truth, out_of_fold[kind][scored]))
    return scores


@dataclass
class PropensityModel(StoredModel):
    """P(buy in the next ``horizon_days``) per customer; ``kind`` ``auto`` chooses on the training windows.

    ``chosen`` names the kind and how many monthly windows it learnt from (``windows``);
    ``validation_auc`` holds every candidate's validation AUC (:mod:`intelligence.windows`).
    Serialise with :meth:`to_bytes` (a model version's payload), restore with :meth:`from_bytes`.
    """

    horizon_days: int = DEFAULT_HORIZON_DAYS
    kind: str = "auto"
    chosen: str = ""
    windows: int = 1
    validation: str = ""
    validation_auc: dict[str, float] = field(default_factory=dict)
    trained_rows: int = 0
    base_rate: float = 0.0
    _part: str = field(default="", repr=False)
    _estimators: list[Any] = field(default_factory=list, repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp, windows: Windows | None = None) -> PropensityModel:
        """Learn from the windows ending by ``cutoff``; raises ``ValueError`` when the latest holds one class only.

        ``windows``: :func:`intelligence.windows.training_windows` of ``frame`` at ``cutoff`` when the
        caller built them already (models fitted at one cutoff share them; a fixed kind uses the latest).
        """
        stacked = (windows.check(cutoff, self.horizon_days) if windows is not None
                   else training_windows(frame, cutoff, self.horizon_days, MAX_WINDOWS if self.kind == "auto" else 1))
        bought = stacked.done["bought"].to_numpy(dtype=int)
        if len(set(bought[stacked.judged()].tolist())) < 2:
            raise ValueError("the training window needs customers who bought and customers who did not")
        best = (self.kind, 1)  # a fixed kind (a baseline) learns from the latest window, unvalidated
        if self.kind == "auto":
            kinds = [*CANDIDATES, BLEND]
            self.validation = stacked.describe()
            self.validation_auc = validated_auc(stacked, kinds)
            scored = [(k, n) for k in kinds for n in stacked.window_choices() if label(k, n) in self.validation_auc]
            best = max(scored, key=lambda c: self.validation_auc[label(*c)]) if scored else ("logistic", 1)
        self._part, self.windows = best
        self.chosen = label(*best)
        rows = stacked.rows(self.windows)
        self._estimators, _ = _fit_predict(self._part, stacked.features.iloc[rows], bought[rows],
                                           stacked.features.iloc[:0])
        self.trained_rows, self.base_rate = len(rows), float(bought[rows].mean())
        return self

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """P(buy) for a feature matrix of :func:`intelligence.features.customer_features`."""
        if not self._estimators:
            raise RuntimeError("fit the model first")
        if list(features.columns) != feature_names():
            raise ValueError("features do not match the model's columns")
        if features.empty:
            return np.zeros(0)
        parts = ("logistic", "lightgbm") if self._part == BLEND else (self._part,)
        return np.mean([est.predict_proba(CANDIDATES[part][0](features))[:, 1]
                        for part, est in zip(parts, self._estimators, strict=True)], axis=0)

    def predict(self, frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
        """``p_buy`` and ``churn_risk`` (= 1 - p_buy) of every customer with a purchase before ``at``."""
        features = customer_features(frame, at)
        p_buy = self.predict_features(features)
        return pd.DataFrame({"p_buy": p_buy, "churn_risk": 1.0 - p_buy}, index=features.index)
