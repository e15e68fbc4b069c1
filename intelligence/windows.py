"""Training rows from several monthly origins, and the rolling-origin validation that chooses on them.

A model fitted at a cutoff can only learn from windows whose outcome is known: features at an origin
``s``, what each customer did in ``[s, s + horizon)``, with ``s + horizon <= cutoff``. One window (the
latest) teaches the model only about customers as old as the history at ``cutoff - horizon``; stacking
the windows of several monthly origins (:data:`STEP_DAYS` apart, at most :data:`MAX_WINDOWS`, each
origin with at least :data:`MIN_HISTORY_DAYS` of history before it) adds customers of other ages
and other seasons' transitions.

Validation is **rolling origin** whenever there are two windows or more: a candidate is trained on
the windows *before* the latest one (the latest ``n - 1`` of them for a candidate that will learn
from ``n``) and judged on the latest window, with customers split in :data:`FOLDS` folds so nobody
is judged on a model that saw their own older rows. This is what the final model does one step
later (learn from older origins, score a newer one), so a model that extrapolates badly to older
customers, or a revenue level that drifts, shows up here. The windows overlap in calendar time
(30-day steps, 90-day horizons): judged and training outcomes share months, which flatters every
candidate alike. With a single window (a young shop) it falls back to cross-validation over
customers inside that window. Above :data:`CHOOSING_CUSTOMERS` customers a seeded sample of them
takes part in the validation (the final model still learns from everyone).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from intelligence.features import customer_features, outcomes

STEP_DAYS = 30
MAX_WINDOWS = 6
MIN_HISTORY_DAYS = 28
FOLDS = 5
SEED = 7
CHOOSING_CUSTOMERS = 20_000  # customers a validation learns from and judges (a large deployment samples)


def origins(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int,
            limit: int = MAX_WINDOWS) -> list[pd.Timestamp]:  # fmt: skip
    """Feature dates of at most ``limit`` training windows, latest first: ``cutoff - horizon``, then a
    month back each, while the origin leaves :data:`MIN_HISTORY_DAYS` of history (the latest is always kept)."""
    latest = pd.Timestamp(cutoff) - pd.Timedelta(days=horizon_days)
    first = frame["ordered_at"].min() if len(frame) else latest
    found = [latest]
    while len(found) < limit:
        earlier = found[-1] - pd.Timedelta(days=STEP_DAYS)
        if earlier < first + pd.Timedelta(days=MIN_HISTORY_DAYS):
            break
        found.append(earlier)
    return found


@dataclass(frozen=True)
class Windows:
    """Stacked training rows: ``features`` (one row per customer and window), their ``done`` outcomes
    (``bought``, ``orders``, ``spend``; no purchase: 0) and ``window`` (0 = the latest origin)."""

    features: pd.DataFrame
    done: pd.DataFrame
    window: np.ndarray
    count: int
    cutoff: pd.Timestamp
    horizon_days: int

    def check(self, cutoff: pd.Timestamp, horizon_days: int) -> Windows:
        """These windows, if they were built for ``cutoff`` and ``horizon_days``; else ``ValueError``."""
        if (self.cutoff, self.horizon_days) != (pd.Timestamp(cutoff), horizon_days):
            raise ValueError(f"the training windows were built for {self.cutoff} and {self.horizon_days} days, "
                             f"not {cutoff} and {horizon_days}")
        return self

    @property
    def customers(self) -> np.ndarray:
        return self.features.index.to_numpy()

    def rows(self, windows: int) -> np.ndarray:
        """Positions of the rows of the latest ``windows`` windows (what a final model learns from)."""
        return np.flatnonzero(self.window < windows)

    def window_choices(self) -> list[int]:
        """How many windows a candidate may learn from: the latest only, or all of them."""
        return [1] if self.count == 1 else [1, self.count]

    def validation_splits(self, windows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train, judged) positions per fold for a candidate that learns from ``windows`` windows.

        Rolling origin when there are older windows (train on windows ``1 … windows - 1``, or window
        1 alone for ``windows == 1``; judge window 0); else folds inside the one window.
        """
        ids, code = np.unique(self.customers, return_inverse=True)
        rng = np.random.default_rng(SEED)
        fold_of = rng.permutation(len(ids)) % FOLDS
        if len(ids) > CHOOSING_CUSTOMERS:  # a seeded sample decides as well, in a fraction of the time
            fold_of[rng.choice(len(ids), size=len(ids) - CHOOSING_CUSTOMERS, replace=False)] = -1
        fold = fold_of[code]
        judged_window = (self.window == 0) & (fold >= 0)
        older = (self.window >= 1) & (self.window <= max(1, windows - 1)) & (fold >= 0)
        learn = judged_window if self.count == 1 else older
        for k in range(FOLDS):
            train, judged = np.flatnonzero(learn & (fold != k)), np.flatnonzero(judged_window & (fold == k))
            if len(train) and len(judged):
                yield train, judged

    def judged(self) -> np.ndarray:
        """Positions of the latest window's rows: what every validation figure is measured on."""
        return np.flatnonzero(self.window == 0)

    def describe(self) -> str:
        """One line for a report: how the choice was validated."""
        if self.count == 1:
            return f"{FOLDS}-fold cross-validation over customers inside the one training window"
        return (f"rolling origin over {self.count} monthly windows: trained on the older windows, judged on "
                f"the latest ({FOLDS} folds over customers)")


def training_windows(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int,
                     limit: int = MAX_WINDOWS) -> Windows:  # fmt: skip
    """Features and outcomes of every origin of :func:`origins`, stacked (customers without a purchase
    before an origin have no row for it)."""
    features, done, window = [], [], []
    for k, origin in enumerate(origins(frame, cutoff, horizon_days, limit)):
        rows = customer_features(frame, origin)
        after = outcomes(frame, origin, origin + pd.Timedelta(days=horizon_days)).reindex(rows.index)
        after["bought"] = after["bought"].astype("boolean").fillna(False).astype(bool)
        after[["orders", "spend"]] = after[["orders", "spend"]].fillna(0.0)
        features.append(rows)
        done.append(after[["bought", "orders", "spend"]])
        window.append(np.full(len(rows), k))
    return Windows(pd.concat(features), pd.concat(done), np.concatenate(window), len(features),
                   pd.Timestamp(cutoff), horizon_days)
