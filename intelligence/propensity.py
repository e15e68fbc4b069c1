"""Will a customer buy in the next N days? Purchase propensity and churn risk.

``PropensityModel.fit(frame, cutoff)`` learns from the last window whose outcome is known (features
at ``cutoff - N days``, purchases in the N days up to ``cutoff``) and picks among logistic
regressions and LightGBM by cross-validated AUC on that window alone; ``predict(frame, at)`` scores
the features at ``at``. Churn risk is defined as ``1 - P(buy in the next N days)``: a customer who
is not expected to order within the period is the one to win back (docs/intelligence.md).
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
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.features import compact_matrix, customer_features, feature_names, rfm_matrix, training_window
from intelligence.model_bytes import StoredModel

DEFAULT_HORIZON_DAYS = 90
FOLDS = 5
SEED = 7


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


def cross_validated_auc(features: pd.DataFrame, label: np.ndarray, kinds: list[str]) -> dict[str, float]:
    """Out-of-fold AUC of each kind on one window (stratified folds over customers, fixed seed)."""
    singles = [kind for kind in kinds if kind != BLEND]
    if BLEND in kinds:
        singles = list(dict.fromkeys([*singles, "logistic", "lightgbm"]))
    out_of_fold = {kind: np.zeros(len(label)) for kind in singles}
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(features, label):
        for kind in singles:
            _, out_of_fold[kind][test] = _fit_predict(kind, features.iloc[train], label[train], features.iloc[test])
    if BLEND in kinds:  # the blend's folds are the mean of its parts' folds: no refit
        out_of_fold[BLEND] = (out_of_fold["logistic"] + out_of_fold["lightgbm"]) / 2
    return {kind: float(roc_auc_score(label, out_of_fold[kind])) for kind in kinds}


@dataclass
class PropensityModel(StoredModel):
    """P(buy in the next ``horizon_days``) per customer; ``kind`` ``auto`` chooses on the fit window.

    Serialise with :meth:`to_bytes` (a model version's payload), restore with :meth:`from_bytes`.
    """

    horizon_days: int = DEFAULT_HORIZON_DAYS
    kind: str = "auto"
    chosen: str = ""
    validation_auc: dict[str, float] = field(default_factory=dict)
    trained_rows: int = 0
    base_rate: float = 0.0
    _estimators: list[Any] = field(default_factory=list, repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> PropensityModel:
        """Learn from the window ending at ``cutoff``; raises ``ValueError`` when it holds one class only."""
        features, done = training_window(frame, cutoff, self.horizon_days)
        label = done["bought"].to_numpy(dtype=int)
        if len(set(label)) < 2:
            raise ValueError("the training window needs customers who bought and customers who did not")
        kinds = [*CANDIDATES, BLEND] if self.kind == "auto" else [self.kind]
        if len(kinds) > 1:
            self.validation_auc = cross_validated_auc(features, label, kinds)
            self.chosen = max(self.validation_auc, key=lambda k: self.validation_auc[k])
        else:
            self.chosen = kinds[0]
        self._estimators, _ = _fit_predict(self.chosen, features, label, features.iloc[:0])
        self.trained_rows, self.base_rate = len(label), float(label.mean())
        return self

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """P(buy) for a feature matrix of :func:`intelligence.features.customer_features`."""
        if not self._estimators:
            raise RuntimeError("fit the model first")
        if list(features.columns) != feature_names():
            raise ValueError("features do not match the model's columns")
        if features.empty:
            return np.zeros(0)
        parts = ("logistic", "lightgbm") if self.chosen == BLEND else (self.chosen,)
        return np.mean([est.predict_proba(CANDIDATES[part][0](features))[:, 1]
                        for part, est in zip(parts, self._estimators, strict=True)], axis=0)

    def predict(self, frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
        """``p_buy`` and ``churn_risk`` (= 1 - p_buy) of every customer with a purchase before ``at``."""
        features = customer_features(frame, at)
        p_buy = self.predict_features(features)
        return pd.DataFrame({"p_buy": p_buy, "churn_risk": 1.0 - p_buy}, index=features.index)
