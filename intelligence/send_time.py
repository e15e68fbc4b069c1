"""Best hour and weekday to text each customer, from the times of their orders.

A customer's order hours (recent orders weigh more) are shrunk toward their segment's (their
country's, or the population's when the country is rare) with the weight of ``prior_orders``
orders, so a customer with one order gets mostly the segment's hour and a regular gets their own.
The chosen hour maximises the mass within ±1 h (what ``hour_hit_pm1`` rewards). ``fit`` chooses
the prior weight and the recency half-life on the last window whose outcome is known; when no
setting beats one best hour for everyone there, ``single_hour`` is set and every customer gets the
population's best hour — the product must say so (issue 14, point 3).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from intelligence.features import DAY, before, order_table, outcomes
from intelligence.model_bytes import StoredModel
from intelligence.propensity import DEFAULT_HORIZON_DAYS

HOURS, WEEKDAYS = 24, 7
PRIOR_ORDERS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 1e6)  # 1e6: the segment's hour for everyone
HALF_LIVES_DAYS: tuple[float | None, ...] = (None, 90.0, 30.0)
MIN_SEGMENT_CUSTOMERS = 30
POPULATION = "*"


def _purchases(frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    orders = order_table(before(frame, at))
    return orders[~orders["cancelled"]]


def _histograms(
    purchases: pd.DataFrame, at: pd.Timestamp, half_life: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weighted order counts per customer: by hour (24 columns) and by weekday (7 columns)."""
    weight = np.ones(len(purchases)) if half_life is None else np.power(
        0.5, ((at - purchases["ordered_at"]) / DAY).to_numpy() / half_life)
    by_hour = pd.crosstab(purchases["customer_id"], purchases["ordered_at"].dt.hour, values=weight, aggfunc="sum")
    by_day = pd.crosstab(purchases["customer_id"], purchases["ordered_at"].dt.day_of_week, values=weight, aggfunc="sum")
    return (by_hour.reindex(columns=range(HOURS)).fillna(0.0), by_day.reindex(columns=range(WEEKDAYS)).fillna(0.0))


def _within_one(matrix: np.ndarray) -> np.ndarray:
    """Mass of each hour and its neighbours (no wrap: a shop's 23:00 and 00:00 are not neighbours);
    a sliver of the hour's own mass breaks ties toward the busiest hour itself."""
    padded = np.pad(matrix, ((0, 0), (1, 1)))
    return padded[:, :-2] + padded[:, 1:-1] * (1 + 1e-6) + padded[:, 2:]


def _segments(purchases: pd.DataFrame) -> pd.Series:
    """Each customer's segment: their country when enough customers share it, else the population."""
    country = purchases.groupby("customer_id")["country"].last()
    sizes = country.map(country.value_counts())
    return country.where(sizes >= MIN_SEGMENT_CUSTOMERS, POPULATION)


def _shares(counts: pd.DataFrame, segment: pd.Series) -> dict[str, np.ndarray]:
    """Each segment's and the population's distribution (each customer counts once: shares summed)."""
    per_customer = counts.div(counts.sum(axis=1), axis=0)
    out = {str(name): group.to_numpy().mean(axis=0) for name, group in per_customer.groupby(segment)}
    out[POPULATION] = per_customer.to_numpy().mean(axis=0)
    return out


@dataclass
class SendTimeModel(StoredModel):
    """Best hour (0-23, the shop's clock) and weekday (0 = Monday) per customer."""

    horizon_days: int = DEFAULT_HORIZON_DAYS
    prior_orders: float = 2.0
    half_life_days: float | None = None
    single_hour: bool = False
    best_hour: int = 12  # the population's: what every customer gets when ``single_hour``
    best_weekday: int = 0
    validation: dict[str, float] = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> SendTimeModel:
        """Choose the prior weight and half-life on the window before ``cutoff``, then set the
        population's best hour and weekday from everything before ``cutoff``.

        Raises ``ValueError`` when nobody ordered before ``cutoff``.
        """
        cutoff = pd.Timestamp(cutoff)
        start = cutoff - pd.Timedelta(days=self.horizon_days)
        truth = next_hours(frame, start, cutoff)
        scores: dict[tuple[float, float | None], float] = {}
        history = _purchases(frame, start)  # once: every trial reads the same orders
        for prior, half_life in itertools.product(PRIOR_ORDERS, HALF_LIVES_DAYS):
            trial = SendTimeModel(self.horizon_days, prior, half_life)
            predicted = trial._scores(history, start).reindex(truth.index).dropna()
            if len(predicted):
                scores[(prior, half_life)] = hit_pm1(predicted["best_hour"], truth.loc[predicted.index])
        if scores:
            (self.prior_orders, self.half_life_days), best = max(scores.items(), key=lambda item: item[1])
            hour, _ = population_best(frame, start)
            everyone = hit_pm1(pd.Series(hour, index=truth.index), truth)
            self.single_hour = best <= everyone
            self.validation = {"hour_hit_pm1": best, "one_best_hour": everyone}
        self.best_hour, self.best_weekday = population_best(frame, cutoff)
        return self

    def _scores(self, purchases: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
        """Best hour and weekday from the purchase orders before ``at`` (:func:`_purchases`)."""
        if purchases.empty:
            return pd.DataFrame(columns=["best_hour", "best_weekday"], dtype=int)
        segment = _segments(purchases)
        by_hour, by_day = _histograms(purchases, at, self.half_life_days)
        best = {}
        for name, counts in (("best_hour", by_hour), ("best_weekday", by_day)):
            own_segment = segment.reindex(counts.index)
            shares = _shares(counts, own_segment)
            prior = np.vstack(list(shares.values()))[pd.Index(list(shares)).get_indexer(own_segment)]
            posterior = counts.to_numpy() + self.prior_orders * prior
            best[name] = np.argmax(_within_one(posterior) if name == "best_hour" else posterior, axis=1)
        return pd.DataFrame(best, index=by_hour.index)

    def predict(self, frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
        """``best_hour`` and ``best_weekday`` of every customer with an order before ``at``; with
        ``single_hour`` the population's hour for all (``personal`` says which one a row got)."""
        scores = self._scores(_purchases(frame, pd.Timestamp(at)), pd.Timestamp(at))
        if self.single_hour:
            scores["best_hour"] = self.best_hour
        scores["personal"] = not self.single_hour
        return scores

    def default(self) -> tuple[int, int]:
        """The hour and weekday for a customer with no order (the population's)."""
        return self.best_hour, self.best_weekday


def population_best(frame: pd.DataFrame, at: pd.Timestamp) -> tuple[int, int]:
    """One best hour (most orders within ±1 h, each customer counting once) and weekday for everyone.

    Raises ``ValueError`` when nobody ordered before ``at``.
    """
    purchases = _purchases(frame, pd.Timestamp(at))
    if purchases.empty:
        raise ValueError("no order before the cutoff: nothing to learn send times from")
    by_hour, by_day = _histograms(purchases, pd.Timestamp(at), None)
    everyone = pd.Series(POPULATION, index=by_hour.index)
    hour = int(np.argmax(_within_one(_shares(by_hour, everyone)[POPULATION][None, :])[0]))
    return hour, int(np.argmax(_shares(by_day, everyone)[POPULATION]))


def usual_hours(frame: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Each customer's most frequent order hour before ``at`` (ties: the earliest), the naive rule."""
    purchases = _purchases(frame, pd.Timestamp(at))
    by_hour, _ = _histograms(purchases, pd.Timestamp(at), None)
    return pd.Series(np.argmax(by_hour.to_numpy(), axis=1), index=by_hour.index)


def next_hours(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """The hour of each customer's first order in ``[start, end)``: the truth ``hour_hit_pm1`` checks."""
    return outcomes(frame, start, end)["first_purchase_at"].dt.hour


def hit_pm1(predicted: pd.Series, actual: pd.Series) -> float:
    """Share of customers whose next order's hour is within ±1 h of the predicted hour."""
    return float((np.abs(predicted.to_numpy(dtype=int) - actual.to_numpy(dtype=int)) <= 1).mean())
