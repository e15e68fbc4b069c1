"""Suites of the purchase-history models on Online Retail-format files: propensity, send_time, recommend.

``--train FILE`` is the history up to a cutoff (default: the shared
``online_retail/transactions_until_2011-08-31.csv.gz``), ``--data FILE`` what happened after it
(same format); the cutoff is the day after the training file's last line and the horizon runs to
the data's last day. Without ``--data`` the last three months of the training file are carved off
as the evaluated data, and the report says so. Every model chooses its settings on the last
horizon of the *training* part only (features at cutoff − horizon, outcomes up to the cutoff), then
scores the cutoff; the baselines are computed in the same run on the same customers:

* ``propensity``: ``purchase_auc`` (will an existing customer buy in the horizon) beside recency
  alone and an RFM logistic regression; ``spend_spearman`` and ``revenue_error`` (|predicted −
  actual| / actual total spend of existing customers) beside the naive run-rate (each customer's
  spend over the last horizon, carried forward); ``revenue_accuracy`` = 1 − revenue_error (the
  threshold file keeps minimums); the next purchase date's error among buyers.
* ``send_time``: ``hour_hit_pm1`` (hour of the next order within ±1 h of the predicted best hour)
  beside one best hour for everyone and each customer's own usual hour; the lift over the first
  with a 95 % interval (paired, normal approximation).
* ``recommend``: ``hit_at_10`` (existing customers buying in the horizon who bought one of their
  ten) beside the ten most popular products and each customer's own top ten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from eval.paths import shared_data_dir
from eval.report import Report
from eval.runner import RunOptions, SuiteSkipped, register
from intelligence.features import DAY, customer_features, outcomes
from intelligence.propensity import PropensityModel
from intelligence.recommend import RecommendModel, bought_products, hit_at, most_popular
from intelligence.retail_data import NON_MERCHANDISE, load_online_retail, split_at
from intelligence.send_time import SendTimeModel, hit_pm1, next_hours, population_best, usual_hours
from intelligence.value import ValueModel
from intelligence.windows import training_windows

DEFAULT_TRAIN = Path("online_retail") / "transactions_until_2011-08-31.csv.gz"
CARVED_MONTHS = 3


@dataclass(frozen=True)
class RetailSplit:
    """History before ``cutoff`` and the lines of ``[cutoff, cutoff + horizon_days)``."""

    history: pd.DataFrame
    after: pd.DataFrame
    cutoff: pd.Timestamp
    horizon_days: int
    description: str

    @property
    def end(self) -> pd.Timestamp:
        return self.cutoff + pd.Timedelta(days=self.horizon_days)


def load_split(options: RunOptions) -> RetailSplit:
    """The training history and the evaluated period of a run; raises :class:`SuiteSkipped` when a
    file is missing and ``ValueError`` when the evaluated period is empty."""
    train_path = options.train or shared_data_dir() / DEFAULT_TRAIN
    for path in (train_path, options.data):
        if path is not None and not path.is_file():
            raise SuiteSkipped(
                f"Online Retail file not found at {path} (set RELAIS_SHARED_DATA or pass --train/--data)")
    history = load_online_retail(train_path)
    if history.empty:
        raise ValueError(f"{train_path} holds no customer's order line")
    train_end = history["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    if options.data is not None:
        cutoff = train_end
        _, after = split_at(load_online_retail(options.data), cutoff)  # lines overlapping the history drop
        description = f"train {train_path.name} (to {cutoff:%Y-%m-%d}), data {options.data.name}"
    else:
        cutoff = train_end - pd.DateOffset(months=CARVED_MONTHS)
        history, after = split_at(history, cutoff)
        description = (f"{train_path.name} carved in time (no --data): history to {cutoff:%Y-%m-%d}, "
                       f"evaluated on its last {CARVED_MONTHS} months")
    if after.empty:
        raise ValueError("no order line after the cutoff: nothing to evaluate")
    horizon = int((after["ordered_at"].max().normalize() + pd.Timedelta(days=1) - cutoff) / DAY)
    return RetailSplit(history, after, cutoff, horizon, f"{description}; horizon {horizon} days")


def _auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(truth, score)) if len(set(truth.tolist())) == 2 else None


def _spearman(score: np.ndarray, truth: np.ndarray) -> float | None:
    if len(truth) < 3 or np.ptp(truth) == 0 or np.ptp(score) == 0:
        return None
    return float(spearmanr(score, truth).statistic)


def _revenue_error(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    return float(abs(predicted.sum() - actual.sum()) / actual.sum()) if actual.sum() > 0 else None


def _choice(name: str, scores: dict[str, float], split: RetailSplit, metric: str, how: str) -> dict[str, str]:
    figures = ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items(), key=lambda kv: -kv[1]))
    return {f"{name} ({metric}: {figures})":
            f"{how}, inside the training part (latest window: features at "
            f"{split.cutoff - pd.Timedelta(days=split.horizon_days):%Y-%m-%d}, the {split.horizon_days} days up to "
            f"the cutoff), not the evaluated data"}


@register("propensity")
def propensity(options: RunOptions) -> Report:
    split = load_split(options)
    options.progress.start("propensity and value models", 4)
    began = time.perf_counter()
    features = customer_features(split.history, split.cutoff)
    done = outcomes(split.after, split.cutoff, split.end).reindex(features.index)
    bought = done["bought"].fillna(False).to_numpy(dtype=int)
    spend = done["spend"].fillna(0.0).to_numpy(dtype=float)
    windows = training_windows(split.history, split.cutoff, split.horizon_days)  # built once, shared by the three
    model = PropensityModel(split.horizon_days).fit(split.history, split.cutoff, windows)
    p_buy = model.predict_features(features)
    options.progress.advance()
    rfm = PropensityModel(split.horizon_days, kind="rfm_logistic").fit(split.history, split.cutoff, windows)
    options.progress.advance()
    value = ValueModel(split.horizon_days).fit(split.history, split.cutoff, windows)
    predicted = value.predict_from(features, split.cutoff, p_buy)
    options.progress.advance()
    start = split.cutoff - pd.Timedelta(days=split.horizon_days)
    run_rate = outcomes(split.history, start, split.cutoff)["spend"].reindex(features.index).fillna(0.0).to_numpy()
    expected = predicted["expected_spend"].to_numpy()
    revenue_error = _revenue_error(expected, spend)
    buyers = bought == 1
    wait = (done["first_purchase_at"] - predicted["next_purchase_at"]).abs() / DAY
    own_gap = features["gap_mean"].fillna(features["gap_mean"].median())  # unshrunk: the naive rule
    naive_next = split.cutoff + pd.to_timedelta((own_gap - features["recency_days"]).clip(lower=0), unit="D")
    naive_wait = (done["first_purchase_at"] - naive_next).abs() / DAY
    options.progress.advance()
    summary: dict[str, Any] = {
        "purchase_auc": _auc(bought, p_buy),
        "purchase_auc_recency": _auc(bought, -features["recency_days"].to_numpy()),
        "purchase_auc_rfm_logistic": _auc(bought, rfm.predict_features(features)),
        "spend_spearman": _spearman(expected, spend),
        "spend_spearman_run_rate": _spearman(run_rate, spend),
        "revenue_error": revenue_error,
        "revenue_error_run_rate": _revenue_error(run_rate, spend),
        "revenue_accuracy": None if revenue_error is None else 1.0 - revenue_error,
        "next_purchase_mae_days": float(wait[buyers].mean()) if buyers.any() else None,
        "next_purchase_mae_days_own_gap": float(naive_wait[buyers].mean()) if buyers.any() else None,
        "customers": len(features), "buyers": int(buyers.sum()),
    }
    report = Report(
        suite="propensity", summary=summary, data=split.description,
        baselines={"purchase_auc": ["purchase_auc_recency", "purchase_auc_rfm_logistic"],
                   "spend_spearman": ["spend_spearman_run_rate"], "revenue_error": ["revenue_error_run_rate"],
                   "next_purchase_mae_days": ["next_purchase_mae_days_own_gap"]},
        metrics={"propensity_validation_auc": model.validation_auc, "propensity_model": model.chosen,
                 "value_validation_spearman": value.validation_spearman, "value_model": value.chosen,
                 "value_validation_revenue_error": {str(w): e for w, e in value.validation_revenue_error.items()},
                 "run_rate_weight": value.run_rate_weight,
                 "predicted_revenue": float(expected.sum()), "actual_revenue": float(spend.sum()),
                 "run_rate_revenue": float(run_rate.sum()), "training_base_rate": model.base_rate,
                 "evaluated_base_rate": float(bought.mean()) if len(bought) else None,
                 "seconds": round(time.perf_counter() - began, 1)},
        charts={"Purchase AUC": {k: v for k, v in (("model", summary["purchase_auc"]),
                                                     ("recency only", summary["purchase_auc_recency"]),
                                                     ("RFM logistic", summary["purchase_auc_rfm_logistic"]))
                                 if v is not None}},
    )
    report.choices = (
        _choice(f"propensity model {model.chosen}", model.validation_auc, split, "AUC", model.validation)
        | _choice(f"spend model {value.chosen}", value.validation_spearman, split, "Spearman", value.validation)
        | _choice(f"run-rate weight {value.run_rate_weight:g} in the expected spend",
                  {f"weight {w:g}": 1 - e for w, e in value.validation_revenue_error.items()}, split,
                  "revenue accuracy of the chosen spend model", value.validation))
    return report


def _lift_interval(model_hits: np.ndarray, base_hits: np.ndarray) -> tuple[float, float, float]:
    """Mean paired difference of two hit vectors and its 95 % normal-approximation interval."""
    diff = model_hits.astype(float) - base_hits.astype(float)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return float(diff.mean()), float(diff.mean() - half), float(diff.mean() + half)


@register("send_time")
def send_time(options: RunOptions) -> Report:
    split = load_split(options)
    options.progress.start("send-time model", 2)
    model = SendTimeModel(split.horizon_days).fit(split.history, split.cutoff)
    options.progress.advance()
    predicted = model.predict(split.history, split.cutoff)
    truth = next_hours(split.after, split.cutoff, split.end)
    truth = truth[truth.index.isin(predicted.index)]  # existing customers: the ones a model can know
    hour = predicted["best_hour"].reindex(truth.index)
    best_hour, _ = population_best(split.history, split.cutoff)
    everyone = pd.Series(best_hour, index=truth.index)
    usual = usual_hours(split.history, split.cutoff).reindex(truth.index)
    options.progress.advance()
    hits = (np.abs(hour.to_numpy() - truth.to_numpy()) <= 1)
    base_hits = (np.abs(everyone.to_numpy() - truth.to_numpy()) <= 1)
    lift, low, high = _lift_interval(hits, base_hits) if len(truth) else (None, None, None)
    summary: dict[str, Any] = {
        "hour_hit_pm1": hit_pm1(hour, truth) if len(truth) else None,
        "hour_hit_pm1_one_best_hour": hit_pm1(everyone, truth) if len(truth) else None,
        "hour_hit_pm1_usual_hour": hit_pm1(usual, truth) if len(truth) else None,
        "lift_over_one_best_hour": lift, "lift_ci95_low": low, "lift_ci95_high": high,
        "personal_hours": not model.single_hour, "customers": len(truth),
    }
    report = Report(
        suite="send_time", summary=summary, data=split.description,
        baselines={"hour_hit_pm1": ["hour_hit_pm1_one_best_hour", "hour_hit_pm1_usual_hour"]},
        metrics={"one_best_hour": best_hour, "validation": model.validation, "prior_orders": model.prior_orders,
                 "half_life_days": model.half_life_days, "best_weekday": model.best_weekday,
                 "next_order_hours": {str(h): int(n) for h, n in truth.value_counts().sort_index().items()}},
        charts={"Next order within ±1 h": {k: v for k, v in (
            ("model", summary["hour_hit_pm1"]), ("one best hour", summary["hour_hit_pm1_one_best_hour"]),
            ("usual hour", summary["hour_hit_pm1_usual_hour"])) if v is not None}},
    )
    half_life = "none" if model.half_life_days is None else f"{model.half_life_days:g} days"
    report.choices = {
        f"prior weight {model.prior_orders:g} orders, half-life {half_life}, personal hours {not model.single_hour} "
        f"(validation hit {model.validation.get('hour_hit_pm1', 0):.3f} vs one best hour "
        f"{model.validation.get('one_best_hour', 0):.3f})":
        f"the training part's last {split.horizon_days} days, not the evaluated data"}
    return report


@register("recommend")
def recommend(options: RunOptions) -> Report:
    split = load_split(options)
    options.progress.start("recommendation model", 2)
    model = RecommendModel(split.horizon_days, excluded=NON_MERCHANDISE).fit(split.history, split.cutoff)
    options.progress.advance()
    truth = bought_products(pd.concat([split.history, split.after]), split.cutoff, split.end)
    recommended = model.recommend(split.history, split.cutoff, truth)
    popular = most_popular(split.history, split.cutoff)
    own = RecommendModel(split.horizon_days).learn(split.history, split.cutoff).recommend(
        split.history, split.cutoff, truth)
    options.progress.advance()
    summary: dict[str, Any] = {
        "hit_at_10": hit_at(recommended, truth),
        "hit_at_10_most_popular": hit_at(dict.fromkeys(truth, popular), truth),
        "hit_at_10_own_top10": hit_at(own, truth),
        "customers": len(truth),
    }
    report = Report(
        suite="recommend", summary=summary, data=split.description,
        baselines={"hit_at_10": ["hit_at_10_most_popular", "hit_at_10_own_top10"]},
        metrics={"validation": model.validation, "half_life_days": model.half_life_days,
                 "co_weight": model.co_weight, "popularity_weight": model.popularity_weight,
                 "most_popular": popular, "excluded_products": sorted(NON_MERCHANDISE)},
        charts={"hit@10": {k: v for k, v in (
            ("model", summary["hit_at_10"]), ("most popular", summary["hit_at_10_most_popular"]),
            ("own top 10", summary["hit_at_10_own_top10"])) if v is not None}},
    )
    report.choices = {
        f"half-life {model.half_life_days}, co-purchase weight {model.co_weight:g}, popularity weight "
        f"{model.popularity_weight:g} (validation hit@10 {model.validation.get('hit_at_10', 0):.3f})":
        f"the training part's last {split.horizon_days} days, not the evaluated data"}
    return report
