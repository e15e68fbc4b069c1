"""Expected spend in the next N days, lifetime value and the expected next purchase date.

``ValueModel.fit(frame, cutoff)`` learns spend from the last window whose outcome is known (as
:mod:`intelligence.propensity` does) and chooses, by cross-validated Spearman correlation on that
window, between a LightGBM regressor with a Tweedie loss (many customers spend nothing) and a
two-part model (P(buy) by logistic regression × log-spend of buyers by ridge regression, with
Duan's smearing so the totals are unbiased). Lifetime value follows from the expected spend and
the purchase probability, the next purchase date from the customer's rhythm, under stated
assumptions (see :func:`lifetime_value` and :func:`next_purchase_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.features import compact_matrix, customer_features, feature_names, training_window
from intelligence.model_bytes import StoredModel
from intelligence.propensity import DEFAULT_HORIZON_DAYS, FOLDS, SEED

KINDS = ("tweedie", "two_part")
LIFETIME_DAYS = 365
MAX_WAIT_DAYS = 3 * 365


def _fit(kind: str, features: pd.DataFrame, spend: np.ndarray) -> list[Any]:
    if kind == "tweedie":
        model = lgb.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.2, n_estimators=300,
                                  learning_rate=0.02, num_leaves=7, min_child_samples=40, subsample=0.8,
                                  subsample_freq=1, colsample_bytree=0.8, random_state=SEED, verbose=-1, n_jobs=1)
        return [model.fit(features.to_numpy(dtype=float), spend)]
    matrix, bought = compact_matrix(features), spend > 0
    buys = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    buys.fit(matrix, bought.astype(int))
    amount = make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=1.0))
    amount.fit(matrix[bought], np.log(spend[bought]))
    smear = float(np.mean(np.exp(np.log(spend[bought]) - amount.predict(matrix[bought]))))
    return [buys, amount, smear]


def _predict(kind: str, fitted: list[Any], features: pd.DataFrame) -> np.ndarray:
    if features.empty:
        return np.zeros(0)
    if kind == "tweedie":
        return np.asarray(fitted[0].predict(features.to_numpy(dtype=float)))
    buys, amount, smear = fitted
    matrix = compact_matrix(features)
    return np.asarray(buys.predict_proba(matrix)[:, 1] * np.exp(amount.predict(matrix)) * smear)


def cross_validated_spearman(features: pd.DataFrame, spend: np.ndarray) -> dict[str, float]:
    """Out-of-fold Spearman correlation of each kind's expected spend with the actual spend."""
    out_of_fold = {kind: np.zeros(len(spend)) for kind in KINDS}
    for train, test in KFold(FOLDS, shuffle=True, random_state=SEED).split(features):
        for kind in KINDS:
            fitted = _fit(kind, features.iloc[train], spend[train])
            out_of_fold[kind][test] = _predict(kind, fitted, features.iloc[test])
    return {kind: float(spearmanr(scores, spend).statistic) for kind, scores in out_of_fold.items()}


def lifetime_value(expected_spend: np.ndarray, p_buy: np.ndarray, horizon_days: int) -> np.ndarray:
    """Expected spend over :data:`LIFETIME_DAYS`: the next period's, then each later period's
    discounted by the chance the customer is still buying (``p_buy`` per period, geometric)."""
    periods = max(1, round(LIFETIME_DAYS / horizon_days))
    survival = sum(np.power(p_buy, k) for k in range(periods))
    return np.asarray(expected_spend * survival)


def next_purchase_at(at: pd.Timestamp, features: pd.DataFrame) -> pd.DatetimeIndex:
    """Expected next purchase date: the last purchase plus the customer's usual gap between
    purchase days, shrunk toward the population's median gap with the weight of one gap (a
    one-order customer gets the median); a date already past becomes ``at`` (due now)."""
    median = float(features["gap_mean"].median()) if features["gap_mean"].notna().any() else 30.0
    gaps = features["gaps"].to_numpy(dtype=float)
    gap = (np.nan_to_num(features["gap_mean"].to_numpy(dtype=float)) * gaps + median) / (gaps + 1.0)
    wait = np.clip(gap - features["recency_days"].to_numpy(dtype=float), 0.0, MAX_WAIT_DAYS)
    return pd.DatetimeIndex(pd.Timestamp(at) + pd.to_timedelta(wait, unit="D"))


@dataclass
class ValueModel(StoredModel):
    """Expected spend in the next ``horizon_days`` per customer (``kind`` ``auto`` chooses)."""

    horizon_days: int = DEFAULT_HORIZON_DAYS
    kind: str = "auto"
    chosen: str = ""
    validation_spearman: dict[str, float] = field(default_factory=dict)
    _fitted: list[Any] = field(default_factory=list, repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> ValueModel:
        """Learn from the window ending at ``cutoff``; raises ``ValueError`` when nobody bought in it."""
        features, done = training_window(frame, cutoff, self.horizon_days)
        spend = done["spend"].to_numpy(dtype=float)
        if not (spend > 0).any() or (spend > 0).all():
            raise ValueError("the training window needs customers who spent and customers who did not")
        if self.kind == "auto":
            self.validation_spearman = cross_validated_spearman(features, spend)
            self.chosen = max(self.validation_spearman, key=lambda k: self.validation_spearman[k])
        else:
            self.chosen = self.kind
        self._fitted = _fit(self.chosen, features, spend)
        return self

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """Expected spend for a feature matrix of :func:`intelligence.features.customer_features`."""
        if not self._fitted:
            raise RuntimeError("fit the model first")
        if list(features.columns) != feature_names():
            raise ValueError("features do not match the model's columns")
        return np.clip(_predict(self.chosen, self._fitted, features), 0.0, None)

    def predict(self, frame: pd.DataFrame, at: pd.Timestamp, p_buy: pd.Series) -> pd.DataFrame:
        """``expected_spend``, ``lifetime_value`` and ``next_purchase_at`` of every customer with a
        purchase before ``at``; ``p_buy`` (from :class:`~intelligence.propensity.PropensityModel`,
        indexed by customer) drives the lifetime value."""
        features = customer_features(frame, at)
        return self.predict_from(features, at, p_buy.reindex(features.index).fillna(0.0).to_numpy())

    def predict_from(self, features: pd.DataFrame, at: pd.Timestamp, p_buy: np.ndarray) -> pd.DataFrame:
        """:meth:`predict` on features already computed (the scoring job computes them once)."""
        spend = self.predict_features(features)
        return pd.DataFrame({
            "expected_spend": spend,
            "lifetime_value": lifetime_value(spend, p_buy, self.horizon_days),
            "next_purchase_at": next_purchase_at(at, features),
        }, index=features.index)
