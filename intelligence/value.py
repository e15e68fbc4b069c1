"""Expected spend in the next N days, lifetime value and the expected next purchase date.

``ValueModel.fit(frame, cutoff)`` learns spend from the windows whose outcome is known (as
:mod:`intelligence.propensity` does, :mod:`intelligence.windows`) and chooses, by Spearman
correlation on the latest window (rolling origin), between a LightGBM regressor with a Tweedie loss
(many customers spend nothing) and two-part models (P(buy) by logistic regression × log-spend of
buyers by ridge regression, ``two_part``, or by LightGBM, ``two_part_trees``, with Duan's smearing
so the totals are unbiased), each learning from the latest window or all of them; then how much of
the naive run-rate to blend in, by the revenue error on the same validation. A ranking model
(``rank_trees``: LightGBM fitted to each customer's rank of next-period spend, non-spenders tied)
competes on the same Spearman: when it wins, it orders the customers and the amount model only says
how much is spent (its amounts are handed out in the ranking's order, :func:`rearrange`), so the
revenue total stays the calibrated model's. Lifetime value follows
from the expected spend and the purchase probability, the next purchase date from the customer's
rhythm, under stated assumptions (see :func:`lifetime_value` and :func:`next_purchase_at`).
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
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from intelligence.features import PRODUCT_REGULARS, compact_matrix, customer_features, feature_names
from intelligence.model_bytes import StoredModel
from intelligence.propensity import DEFAULT_HORIZON_DAYS, label
from intelligence.windows import MAX_WINDOWS, SEED, Windows, training_windows

KINDS = ("tweedie", "two_part", "two_part_trees")  # amount models: each predicts an amount
#: a ranking model: predicts where a customer's spend falls among the window's (Spearman is a rank figure)
RANKING = "rank_trees"
#: weights of the naive run-rate in the expected spend, chosen by the validation revenue error
RUN_RATE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
LIFETIME_DAYS = 365
MAX_WAIT_DAYS = 3 * 365


#: what an order's amount depends on: a tree model only needs the columns, not their scale
AMOUNT_COLUMNS = ["recency_days", "tenure_days", "orders", "spend", "order_value_mean", "order_value_max",
                  "spend_30d", "spend_90d", "orders_90d", "lines_mean", "units_mean", "products", "uk"]


def _amount_model(kind: str) -> Any:
    if kind == "two_part":
        return make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=1.0))
    return _small_trees()


def _small_trees() -> lgb.LGBMRegressor:
    # the propensity model's small trees: they do not extrapolate past the spend they were shown,
    # which is what overshot the revenue of customers older than the training ones
    return lgb.LGBMRegressor(n_estimators=400, learning_rate=0.01, num_leaves=4, min_child_samples=60, subsample=0.8,
                             subsample_freq=1, colsample_bytree=0.7, reg_lambda=5.0, random_state=SEED, verbose=-1,
                             n_jobs=1)  # fmt: skip


def _amount_matrix(kind: str, features: pd.DataFrame) -> np.ndarray:
    return compact_matrix(features) if kind == "two_part" else features[AMOUNT_COLUMNS].to_numpy(dtype=float)


def _tree_matrix(kind: str, features: pd.DataFrame) -> np.ndarray:
    """The ranking model's columns (all), or the Tweedie model's: all but the product-regulars shares,
    which raised its validation revenue error (docs/intelligence.md) while they lifted the ranking's Spearman."""
    kept = features if kind == RANKING else features.drop(columns=list(PRODUCT_REGULARS))
    return kept.to_numpy(dtype=float)


def spend_ranks(spend: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Each row's spend as a share of its window's customers at or below it (ties share their mean rank)."""
    return np.asarray(pd.Series(spend).groupby(window).rank(pct=True).to_numpy())


def _fit(kind: str, features: pd.DataFrame, spend: np.ndarray, window: np.ndarray) -> list[Any]:
    if kind == RANKING:  # ranks within each window: a window's spend level does not leak into another's
        return [_small_trees().fit(_tree_matrix(kind, features), spend_ranks(spend, window))]
    if kind == "tweedie":
        model = lgb.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.2, n_estimators=300,
                                  learning_rate=0.02, num_leaves=7, min_child_samples=40, subsample=0.8,
                                  subsample_freq=1, colsample_bytree=0.8, random_state=SEED, verbose=-1, n_jobs=1)
        return [model.fit(_tree_matrix(kind, features), spend)]
    bought = spend > 0
    buys = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    buys.fit(compact_matrix(features), bought.astype(int))
    matrix = _amount_matrix(kind, features)[bought]
    amount = _amount_model(kind).fit(matrix, np.log(spend[bought]))
    smear = float(np.mean(np.exp(np.log(spend[bought]) - amount.predict(matrix))))  # Duan: unbiased totals
    return [buys, amount, smear]


def _predict(kind: str, fitted: list[Any], features: pd.DataFrame) -> np.ndarray:
    if features.empty:
        return np.zeros(0)
    if kind in ("tweedie", RANKING):
        return np.asarray(fitted[0].predict(_tree_matrix(kind, features)))
    buys, amount, smear = fitted
    p_buy = buys.predict_proba(compact_matrix(features))[:, 1]
    return np.asarray(p_buy * np.exp(amount.predict(_amount_matrix(kind, features))) * smear)


def rearrange(amounts: np.ndarray, ranking: np.ndarray) -> np.ndarray:
    """The same amounts handed out in the order of ``ranking``: the highest-ranked customer gets the
    largest amount. The total (and the spread of amounts) is the amount model's, the order the ranking's."""
    out = np.empty(len(amounts))
    out[np.argsort(ranking, kind="stable")] = np.sort(amounts)
    return out


def run_rate(features: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """The naive forecast: each customer's spend of the last 90 days, scaled to the horizon."""
    return np.asarray(features["spend_90d"].clip(lower=0).to_numpy(dtype=float) * horizon_days / 90.0)


def _revenue_error(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(abs(predicted.sum() - actual.sum()) / actual.sum()) if actual.sum() > 0 else float("nan")


@dataclass(frozen=True)
class _Validation:
    """Each candidate's Spearman, the revenue error of each run-rate weight for the best amount model,
    and the ranking model that orders the customers if it beat every amount model (else ``None``)."""

    spearman: dict[str, float]
    revenue_error: dict[float, float]
    best: tuple[str, int]
    ranking: tuple[str, int] | None = None


def _validate(windows: Windows, horizon_days: int) -> _Validation:
    spend = windows.done["spend"].to_numpy(dtype=float)
    judged = windows.judged()
    spearman: dict[str, float] = {}
    predictions: dict[tuple[str, int], np.ndarray] = {}
    for count in windows.window_choices():
        out_of_fold = {kind: np.full(len(spend), np.nan) for kind in (*KINDS, RANKING)}
        for train, test in windows.validation_splits(count):
            if not (spend[train] > 0).any() or (spend[train] > 0).all():
                continue
            for kind in out_of_fold:
                fitted = _fit(kind, windows.features.iloc[train], spend[train], windows.window[train])
                out_of_fold[kind][test] = np.clip(_predict(kind, fitted, windows.features.iloc[test]), 0.0, None)
        for kind in out_of_fold:
            scored = judged[~np.isnan(out_of_fold[kind][judged])]
            if len(scored) > 2 and np.ptp(spend[scored]) > 0 and np.ptp(out_of_fold[kind][scored]) > 0:
                spearman[label(kind, count)] = float(spearmanr(out_of_fold[kind][scored], spend[scored]).statistic)
                predictions[(kind, count)] = out_of_fold[kind]
    amounts = [c for c in predictions if c[0] != RANKING]
    if not amounts:
        return _Validation(spearman, {}, ("two_part", 1))
    best = max(amounts, key=lambda c: spearman[label(*c)])
    ranking = max(predictions, key=lambda c: spearman[label(*c)])
    scored = judged[~np.isnan(predictions[best][judged])]
    model, naive = predictions[best][scored], run_rate(windows.features.iloc[scored], horizon_days)
    errors = {w: _revenue_error((1 - w) * model + w * naive, spend[scored]) for w in RUN_RATE_WEIGHTS}
    return _Validation(spearman, errors, best, ranking if ranking[0] == RANKING else None)


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
    """Expected spend in the next ``horizon_days`` per customer (``kind`` ``auto`` chooses).

    ``chosen`` names the amount model's kind and how many monthly windows it learnt from
    (``windows``), chosen by the validation Spearman (:mod:`intelligence.windows`), and the ranking
    model that orders the customers when it beat every amount model there (``ranking``, else empty);
    ``run_rate_weight`` is the share of the naive run-rate blended into the amounts, chosen by the
    validation revenue error.
    """

    horizon_days: int = DEFAULT_HORIZON_DAYS
    kind: str = "auto"
    chosen: str = ""
    windows: int = 1
    run_rate_weight: float = 0.0
    ranking: str = ""
    validation: str = ""
    validation_spearman: dict[str, float] = field(default_factory=dict)
    validation_revenue_error: dict[float, float] = field(default_factory=dict)
    _part: str = field(default="", repr=False)
    _fitted: list[Any] = field(default_factory=list, repr=False)
    _ranker: list[Any] = field(default_factory=list, repr=False)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp, windows: Windows | None = None) -> ValueModel:
        """Learn from the windows ending by ``cutoff``; raises ``ValueError`` when in the latest nobody
        (or everybody) spent. ``windows``: as in :meth:`intelligence.propensity.PropensityModel.fit`.
        A fixed ``kind`` (one of :data:`KINDS`) learns from the latest window, unvalidated and unranked."""
        if self.kind != "auto" and self.kind not in KINDS:
            raise ValueError(f"unknown spend model {self.kind!r}: auto or one of {', '.join(KINDS)}")
        stacked = (windows.check(cutoff, self.horizon_days) if windows is not None
                   else training_windows(frame, cutoff, self.horizon_days, MAX_WINDOWS if self.kind == "auto" else 1))
        spend = stacked.done["spend"].to_numpy(dtype=float)
        latest = spend[stacked.judged()]
        if not (latest > 0).any() or (latest > 0).all():
            raise ValueError("the training window needs customers who spent and customers who did not")
        self._part, self.windows = self.kind, 1
        if self.kind == "auto":
            found = _validate(stacked, self.horizon_days)
            self.validation = stacked.describe()
            self.validation_spearman, self.validation_revenue_error = found.spearman, found.revenue_error
            (self._part, self.windows) = found.best
            finite = {w: e for w, e in found.revenue_error.items() if np.isfinite(e)}
            self.run_rate_weight = min(finite, key=lambda w: (finite[w], w)) if finite else 0.0
            if found.ranking is not None:
                self.ranking = label(*found.ranking)
                rows = stacked.rows(found.ranking[1])
                self._ranker = _fit(RANKING, stacked.features.iloc[rows], spend[rows], stacked.window[rows])
        self.chosen = label(self._part, self.windows) + (f", ranked by {self.ranking}" if self.ranking else "")
        rows = stacked.rows(self.windows)
        self._fitted = _fit(self._part, stacked.features.iloc[rows], spend[rows], stacked.window[rows])
        return self

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """Expected spend for a feature matrix of :func:`intelligence.features.customer_features`."""
        if not self._fitted:
            raise RuntimeError("fit the model first")
        if list(features.columns) != feature_names():
            raise ValueError("features do not match the model's columns")
        amounts = np.clip(_predict(self._part, self._fitted, features), 0.0, None)
        if self.run_rate_weight:
            naive = run_rate(features, self.horizon_days)
            amounts = (1 - self.run_rate_weight) * amounts + self.run_rate_weight * naive
        return rearrange(amounts, _predict(RANKING, self._ranker, features)) if self._ranker else amounts

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
