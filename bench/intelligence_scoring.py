"""Scoring a deployment's contacts with the purchase-history models: seconds for 100,000 contacts.

    .venv/bin/python -m bench.intelligence_scoring [--contacts 100000] [--train FILE]   (from the repository root)

The models (propensity, value, send time, recommendations) are fitted once on the Online Retail
file, as the scheduled job would fit them on a deployment's orders (fit time printed, not part of
the scoring figure). The deployment is that file's customers resampled with replacement to
``--contacts`` contacts, each copy keeping all its order lines under a new id, its dates moved back
0-30 days (real baskets, real rhythms, more customers). The scoring path is what the predictions
job runs per deployment: the feature matrix, P(buy) and churn risk, expected spend, lifetime value
and next purchase date, best hour and weekday, ten products per contact. Beside it, two floors
measured in the same run: LightGBM's raw ``predict`` on the same feature matrix, and one pandas
group-by sum over the same order lines (the least any per-customer pass over them costs).

This is a benchmark, not a test: the target is 60 s for 100,000 contacts on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from eval.paths import shared_data_dir
from eval.retail_suites import DEFAULT_TRAIN
from intelligence.features import customer_features
from intelligence.propensity import PropensityModel
from intelligence.recommend import RecommendModel
from intelligence.retail_data import NON_MERCHANDISE, load_online_retail
from intelligence.send_time import SendTimeModel
from intelligence.value import ValueModel


def resample(frame: pd.DataFrame, contacts: int, seed: int = 0) -> pd.DataFrame:
    """``contacts`` customers drawn with replacement from ``frame``'s, each copy a new id, dates moved back."""
    rng = np.random.default_rng(seed)
    customers = frame["customer_id"].unique()
    drawn = rng.choice(customers, size=contacts, replace=True)
    copies = pd.DataFrame({"customer_id": drawn, "new_id": [f"c{i}" for i in range(contacts)],
                           "shift": rng.integers(0, 31, size=contacts)})
    lines = frame.merge(copies, on="customer_id", how="inner")
    lines["customer_id"] = lines.pop("new_id")
    lines["ordered_at"] = lines["ordered_at"] - pd.to_timedelta(lines.pop("shift"), unit="D")
    lines["order_id"] = lines["customer_id"] + ":" + lines["order_id"]
    return lines.loc[:, list(frame.columns)]


CPU: dict[str, float] = {}  # the same steps in processor seconds: the figure a loaded machine does not inflate


def _timed(label: str, seconds: dict[str, float], fn: Callable[..., Any], *args: Any) -> Any:
    began, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    seconds[label] = time.perf_counter() - began
    CPU[label] = time.process_time() - cpu
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--train", type=Path, default=None)
    args = parser.parse_args()
    path = args.train or shared_data_dir() / DEFAULT_TRAIN
    seconds: dict[str, float] = {}
    frame = _timed("load file", seconds, load_online_retail, path)
    at = frame["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    print(f"{path.name}: {len(frame):,} lines of {frame['customer_id'].nunique():,} customers "
          f"loaded in {seconds['load file']:.2f} s; scoring at {at:%Y-%m-%d}")
    fit: dict[str, float] = {}
    propensity = _timed("propensity", fit, PropensityModel().fit, frame, at)
    value = _timed("value", fit, ValueModel().fit, frame, at)
    send_time = _timed("send time", fit, SendTimeModel().fit, frame, at)
    recommend = _timed("recommend", fit, RecommendModel(excluded=NON_MERCHANDISE).fit, frame, at)
    print("fit on the file (not in the scoring path): " + ", ".join(f"{k} {v:.1f} s" for k, v in fit.items()))
    deployment = resample(frame, args.contacts)
    print(f"deployment: {args.contacts:,} contacts, {len(deployment):,} order lines")
    score: dict[str, float] = {}
    features = _timed("features", score, customer_features, deployment, at)
    p_buy = _timed("propensity", score, propensity.predict_features, features)
    _timed("value", score, value.predict_from, features, at, p_buy)
    _timed("send time", score, send_time.predict, deployment, at)
    picks = _timed("recommend", score, recommend.recommend, deployment, at)
    total = sum(score.values())
    floors: dict[str, float] = {}
    booster = lgb.LGBMClassifier(n_estimators=400, num_leaves=4, verbose=-1, n_jobs=1).fit(
        features.to_numpy(dtype=float), (p_buy > np.median(p_buy)).astype(int))
    _timed("raw lightgbm predict", floors, booster.predict_proba, features.to_numpy(dtype=float))
    _timed("one group-by over the lines", floors, lambda: deployment.groupby("customer_id")["quantity"].sum())
    cpu = sum(CPU[name] for name in score)
    print(f"scored {len(features):,} contacts ({len(picks):,} with recommendations) in {total:.1f} s wall, "
          f"{cpu:.1f} s CPU (target 60 s; load average {os.getloadavg()[0]:.1f}): "
          f"{len(features) / total:,.0f} contacts/s")
    for name, value_s in score.items():
        print(f"  {name:<12} {value_s:6.2f} s wall {CPU[name]:6.2f} s CPU")
    for name, floor in floors.items():
        print(f"floor: {name} {floor:.2f} s wall {CPU[name]:.2f} s CPU; scoring / floor = {total / floor:,.0f}x wall, "
              f"{cpu / max(CPU[name], 1e-9):,.0f}x CPU")


if __name__ == "__main__":
    main()
