"""Score every contact of the deployment: train the order-history models at "now" and store predictions.

One run (:func:`score_contacts`) reads the orders table once (:func:`intelligence.history.order_lines`),
trains the propensity, value, send-time and recommendation models with the cutoff at ``now`` (each
chooses its own settings on the last window whose outcome is known, see docs/intelligence.md),
registers one model version per prediction kind with the figures that choice measured, and writes
the predictions of every contact in one batch per kind (:mod:`intelligence.store`).

* A contact with orders gets the models' values. A contact without gets the population's default
  (``detail["default"]`` is true and ``detail["basis"]`` says which): the share of recent first-time
  buyers for ``purchase_90d``, that share times the median first order for the spend, the
  population's best hour; no ``next_purchase_days`` (no rhythm to extrapolate).
* Every value carries ``detail["percentile"]``: the share of scored contacts whose value is at or
  below it (0-100), so "in the top 10 %" is a segment rule (``contacts.segments``).
* Too little history (fewer than :data:`MIN_CUSTOMERS` customers with orders, or a training window
  with one outcome only) stores nothing new: :class:`ScoringResult` says which path was taken and why.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import Contact
from core import zones
from core.db import utcnow
from intelligence import store
from intelligence.features import customer_features, order_table
from intelligence.history import order_lines
from intelligence.propensity import DEFAULT_HORIZON_DAYS, PropensityModel
from intelligence.recommend import RecommendModel, most_popular
from intelligence.send_time import SendTimeModel
from intelligence.value import LIFETIME_DAYS, ValueModel, lifetime_value
from intelligence.windows import MAX_WINDOWS, training_windows

MIN_CUSTOMERS = 50
RECOMMENDED = 5  # products kept per contact: what a template or the contact page shows
SCORED = "scored"
TOO_LITTLE = "too_little_history"


@dataclass
class ScoringResult:
    """What one run did: ``path`` is :data:`SCORED` or :data:`TOO_LITTLE`, ``reason`` says why."""

    path: str
    reason: str
    customers: int = 0  # contacts with a purchase before the cutoff (all customers learnt from when too little)
    contacts_scored: int = 0  # every contact given predictions, defaults included
    defaults: int = 0  # of which without orders (population defaults)
    versions: dict[str, str] = field(default_factory=dict)  # prediction kind -> model version
    written: dict[str, int] = field(default_factory=dict)  # prediction kind -> rows written
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metrics(figures: dict[str, float], **extra: Any) -> dict[str, Any]:
    """The validation figures a model reported; "n/a" for an undefined one or when it measured none."""
    clean: dict[str, Any] = {k: (round(v, 4) if np.isfinite(v) else "n/a") for k, v in figures.items()}
    return {"validation": clean or "n/a", **extra}


def percentiles(values: np.ndarray) -> np.ndarray:
    """Share (0-100) of ``values`` at or below each one: the top 10 % have a percentile above 90."""
    if not len(values):
        return np.zeros(0)
    return np.round(rankdata(values, method="max") / len(values) * 100.0, 2)


def _local(hour: int, weekday: int, zone: str | None) -> tuple[int, int, str]:
    """A UTC hour and weekday (the orders' clock) in the contact's zone: (hour, weekday, zone name)."""
    tz = zones.zone(zone)
    monday = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the offset of the season is good enough here
    moment = (monday + timedelta(days=weekday, hours=hour)).astimezone(tz)
    return moment.hour, moment.weekday(), str(tz)


@dataclass
class _Defaults:
    """The population's values for a contact without orders, and what they rest on."""

    p_buy: float
    spend: float
    hour: int
    weekday: int
    products: list[dict[str, str]]


def _defaults(
    frame: pd.DataFrame, cutoff: pd.Timestamp, no_orders: int, send: SendTimeModel, popular: list[dict[str, str]]
) -> _Defaults:
    """First-time buyers of the last window over themselves plus today's contacts without orders
    (who had no order at the window's start and are still here), and their median first order."""
    orders = order_table(frame)
    purchases = orders[~orders["cancelled"]].sort_values("ordered_at")
    first = purchases.groupby("customer_id").head(1)
    start = cutoff - pd.Timedelta(days=DEFAULT_HORIZON_DAYS)
    newcomers = first[first["ordered_at"] >= start]
    rate = len(newcomers) / max(1, len(newcomers) + no_orders)
    median = float(newcomers["value"].median()) if len(newcomers) else 0.0
    hour, weekday = send.default()
    return _Defaults(p_buy=rate, spend=rate * median, hour=hour, weekday=weekday, products=popular)


def _names(frame: pd.DataFrame) -> dict[str, str]:
    """Each product's latest description (once per run: a large shop has millions of lines)."""
    return dict(frame.drop_duplicates("product_id", keep="last")[["product_id", "description"]].to_numpy())


def _products(names: dict[str, str], ids: list[str]) -> list[dict[str, str]]:
    return [{"id": pid, "description": str(names.get(pid, ""))} for pid in ids]


Card = tuple[dict[str, Any], dict[str, Any]]  # a model version's params and metrics


@dataclass
class _Models:
    """The four models trained at one cutoff."""

    propensity: PropensityModel
    value: ValueModel
    send: SendTimeModel
    recommend: RecommendModel

    def cards(self) -> dict[str, Card]:
        """Params and validation figures of each prediction kind's model version."""
        p, v, s, r = self.propensity, self.value, self.send, self.recommend
        propensity: dict[str, Any] = {"model": p.chosen, "horizon_days": p.horizon_days}
        value: dict[str, Any] = {"model": v.chosen, "horizon_days": v.horizon_days}
        recommend = {
            "half_life_days": r.half_life_days,
            "co_weight": r.co_weight,
            "popularity_weight": r.popularity_weight,
            "validation": _metrics(r.validation)["validation"],
        }
        p_metrics = _metrics(p.validation_auc, base_rate=round(p.base_rate, 4), trained_rows=p.trained_rows)
        v_metrics = _metrics(v.validation_spearman)
        return {
            "purchase_90d": ({**propensity, "recommend": recommend}, p_metrics),
            "churn_risk": ({**propensity, "definition": "1 - purchase_90d"}, p_metrics),
            "expected_spend": (value, v_metrics),
            "clv": ({**value, "lifetime_days": LIFETIME_DAYS}, v_metrics),
            "next_purchase_days": ({"rule": "last purchase + usual gap, shrunk toward the median gap"},
                                   {"validation": "n/a"}),
            "best_hour": ({"prior_orders": s.prior_orders, "half_life_days": s.half_life_days,
                           "single_hour": s.single_hour}, _metrics(s.validation)),
        }  # fmt: skip


def _naive_utc(now: datetime | None) -> datetime:
    moment = now or utcnow()
    return (moment.astimezone(UTC) if moment.tzinfo else moment).replace(tzinfo=None)


def score_contacts(
    session: Session, *, now: datetime | None = None, min_customers: int = MIN_CUSTOMERS,
    reference: pd.DataFrame | None = None, excluded: frozenset[str] = frozenset(),
) -> ScoringResult:  # fmt: skip
    """Train at ``now`` (default: the current time) and store every live contact's predictions.

    ``reference``: order lines of other customers (canonical columns) the models also learn from,
    for a shop too young to learn from its own (the demo: Online Retail); they are never scored and
    never count in a percentile. ``excluded``: products never recommended (postage, fees).
    Flushes only; the caller commits. Returns the path taken; nothing is written on :data:`TOO_LITTLE`.
    """
    started = time.monotonic()
    moment = _naive_utc(now)
    cutoff = pd.Timestamp(moment)
    own = order_lines(session, until=moment.replace(tzinfo=UTC))
    frame = own
    if reference is not None and len(reference):
        borrowed = reference[reference["ordered_at"] < cutoff].assign(
            customer_id="ref:" + reference["customer_id"].astype(str),
            order_id="ref:" + reference["order_id"].astype(str),
        )
        frame = pd.concat([own, borrowed], ignore_index=True).sort_values("ordered_at", kind="stable")
    features = customer_features(frame, cutoff)
    customers = len(features)
    kept = "earlier predictions are kept"
    if customers < min_customers:
        return ScoringResult(TOO_LITTLE, f"{customers} customers with orders; at least {min_customers} are needed "
                             f"to learn from ({kept})", customers=customers,
                             seconds=round(time.monotonic() - started, 2))  # fmt: skip
    try:
        recommend = RecommendModel(excluded=excluded).fit(frame, cutoff)
        # one set of training windows for both models (the same horizon): built once, not twice
        windows = training_windows(frame, cutoff, DEFAULT_HORIZON_DAYS, MAX_WINDOWS)
        models = _Models(PropensityModel().fit(frame, cutoff, windows), ValueModel().fit(frame, cutoff, windows),
                         SendTimeModel().fit(frame, cutoff), recommend)  # fmt: skip
    except ValueError as exc:  # e.g. everybody (or nobody) bought in the last window
        return ScoringResult(TOO_LITTLE, f"the last {DEFAULT_HORIZON_DAYS} days cannot be learnt from: {exc} ({kept})",
                             customers=customers, seconds=round(time.monotonic() - started, 2))  # fmt: skip
    live = dict(session.execute(select(Contact.id, Contact.timezone).where(Contact.erased.is_(False))).all())
    rows = [i for i, c in enumerate(features.index) if str(c).isdigit() and int(c) in live]
    ids = [int(features.index[i]) for i in rows]
    without = sorted(set(live) - set(ids))
    names = _names(frame)
    popular = [p for p in most_popular(frame, cutoff, RECOMMENDED + len(excluded)) if p not in excluded]
    base = _defaults(own, cutoff, len(without), models.send, _products(names, popular[:RECOMMENDED]))
    borrowed_note = f", {customers - len(ids)} of them from the reference history" if frame is not own else ""
    result = ScoringResult(SCORED, f"trained on {customers} customers with orders before {cutoff:%Y-%m-%d %H:%M} UTC"
                           f"{borrowed_note}", customers=len(ids), contacts_scored=len(ids) + len(without),
                           defaults=len(without))  # fmt: skip
    written = _Writer(session, result, f"{cutoff:%Y%m%dT%H%M%S}", moment.replace(tzinfo=UTC), models.cards())

    p_all = models.propensity.predict_features(features)
    p_buy = p_all[rows]
    values = models.value.predict_from(features, cutoff, p_all).iloc[rows]
    picks = models.recommend.recommend(frame, cutoff, customers=[str(c) for c in ids], top_n=RECOMMENDED)
    default_clv = float(lifetime_value(np.array([base.spend]), np.array([base.p_buy]), DEFAULT_HORIZON_DAYS)[0])
    products = [_products(names, picks.get(str(c)) or []) or base.products for c in ids]
    written.kind("purchase_90d", ids, p_buy, without, base.p_buy,
                 [{"products": p} for p in products], {"products": base.products})  # fmt: skip
    written.kind("churn_risk", ids, 1.0 - p_buy, without, 1.0 - base.p_buy)
    written.kind("expected_spend", ids, values["expected_spend"].to_numpy(), without, base.spend)
    written.kind("clv", ids, values["lifetime_value"].to_numpy(), without, default_clv)
    waits = ((values["next_purchase_at"] - cutoff) / pd.Timedelta(days=1)).to_numpy()
    written.kind("next_purchase_days", ids, waits, [], 0.0,
                 [{"date": at.date().isoformat()} for at in values["next_purchase_at"]])  # fmt: skip

    times = models.send.predict(frame, cutoff).reindex(features.index[rows])
    local = [
        (*_local(int(h), int(d), live.get(c)), bool(p))
        if not pd.isna(h)
        else (*_local(base.hour, base.weekday, live.get(c)), False)
        for c, h, d, p in zip(ids, times["best_hour"], times["best_weekday"], times["personal"], strict=True)
    ]
    zones = [_local(base.hour, base.weekday, live.get(c)) for c in without]
    written.kind("best_hour", ids, np.array([h for h, *_ in local], dtype=float), without,
                 np.array([h for h, _, _ in zones], dtype=float),
                 [{"hour": h, "day": d, "timezone": z, "personal": p} for h, d, z, p in local],
                 [{"hour": h, "day": d, "timezone": z, "personal": False} for h, d, z in zones])  # fmt: skip
    result.seconds = round(time.monotonic() - started, 2)
    return result


class _Writer:
    """Registers each kind's model version and writes its predictions with their percentiles."""

    DEFAULT = {"default": True, "basis": "no orders yet: the population's value"}

    def __init__(self, session: Session, result: ScoringResult, version: str, trained: datetime,
                 cards: dict[str, Card]) -> None:  # fmt: skip
        self.session, self.result, self.version, self.trained, self.cards = session, result, version, trained, cards

    def kind(
        self, kind: str, ids: list[int], values: np.ndarray, without: list[int], default: float | np.ndarray,
        details: list[dict[str, Any]] | None = None,
        default_detail: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        """Write ``values`` of ``ids`` and the population's ``default`` for ``without`` (one value, or one each)."""
        column = np.concatenate([np.asarray(values, dtype=float),
                                 np.broadcast_to(np.asarray(default, dtype=float), (len(without),))])  # fmt: skip
        ranks = percentiles(column)
        extra = details or [{}] * len(ids)
        fallback = default_detail if isinstance(default_detail, list) else [default_detail or {}] * len(without)
        scores = [store.Score(c, float(v), {"percentile": float(r), **d})
                  for c, v, r, d in zip(ids, column, ranks, extra, strict=False)]  # fmt: skip
        rest = zip(without, column[len(ids) :], ranks[len(ids) :], fallback, strict=True)
        scores += [store.Score(c, float(v), {"percentile": float(r), **d, **self.DEFAULT}) for c, v, r, d in rest]
        params, metrics = self.cards[kind]
        model = store.register_version(self.session, kind=kind, version=self.version, metrics=metrics, params=params,
                                       trained_at=self.trained)  # fmt: skip
        self.result.versions[kind] = self.version
        self.result.written[kind] = store.write_predictions(self.session, model, scores, computed_at=self.trained)
