"""Forecast a campaign before it is sent: delivered, clicks, conversions, revenue, cost and ROI, with intervals.

The forecast simulates the campaign :data:`DRAWS` times. Each draw first draws the campaign's own
rates, then its outcomes given those rates, so an interval holds both what is not known about the
rates and the luck of one send:

* **Rates** (delivered per message sent, unique clickers and conversions per delivered message)
  are Beta distributions from this deployment's past campaigns (:class:`PastCampaign` counts,
  passed by ``campaigns``, which intelligence cannot read) on top of a weak population prior
  (:data:`PRIORS`, worth :data:`PRIOR_WEIGHT` messages). Campaigns differ from one another more
  than one campaign's sampling noise says, so with three past campaigns or more the spread between
  them (method of moments, the beta-binomial's between-campaign variance) widens the Beta: the
  rate drawn is a *new* campaign's rate, not the pooled average's (widened as a Student t would be:
  a spread measured on a few campaigns is often too small; seeded simulations in
  tests/intelligence/test_forecast.py check the intervals cover at about their rate).
* **Contacts' predictions**: a recipient's chance to convert is the rate times its purchase
  probability (``purchase_90d``) relative to the past recipients' mean (this audience's mean when
  the past one is not known); recipients without a prediction count at that mean. A converter's
  order is worth the past conversions' mean value (drawn with its standard error) times the
  recipient's mean order value relative to the audience's mean, each order varying by the past
  orders' coefficient of variation (:data:`DEFAULT_ORDER_CV` before any). Without past conversion
  values, the recipients' mean order value is the order value; with neither, revenue and ROI are not
  forecast (``None``). A conversion is one order: the 90-day spend ÷ ``purchase_90d`` (what a buyer
  spends in 90 days) counted a customer ordering every other day at 45 orders' worth each.
* **Links**: only a link written in the template is tracked, so only a recipient whose text holds one can
  click (:attr:`Inputs.clickable`, the share of them: an A/B test's arms by weight). A text without a link
  forecasts no click, and its recipients convert at the rate past recipients converted at *without clicking*
  (:attr:`PastCampaign.converted_unclicked`: conversions recorded for the campaign within its report's window
  by a recipient who never clicked it, e.g. an order placed after reading the text), on its own weak prior
  (:data:`PRIORS` ``conversion_without_click``): past conversions through a link cannot come from a text
  without one.
* **Outcomes given the rates**: delivered ~ Binomial(sent, d), unique clickers ~ Binomial(delivered,
  c × clickable share), conversions ~ Poisson(delivered share × rate × Σ recipients' relative chances) —
  rare events, for which Poisson and the exact sum of Bernoullis agree — and revenue the sum of the converters'
  orders, converters drawn in proportion to their chances.
* **Cost** is the sendable messages × segments per message × price per segment: known before
  sending (the interval is the point); ROI = (revenue − cost) ÷ cost.
* **Currencies** (:class:`Money`): revenue is in the orders' currency, cost in the SMS price's. When
  they differ, ROI converts revenue with the exchange rate the deployment configured, and names it;
  without one ROI is not forecast (``None``, with the reason in :attr:`Forecast.sources`): a ratio of
  two currencies is not a return.

:attr:`Forecast.sources` says, per figure, which of these the forecast used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.words import counted

DRAWS = 4000
#: Population priors (mean per message) used alone before any past campaign, and as a weak prior after.
PRIORS: dict[str, float] = {"delivery": 0.95, "click": 0.05, "conversion": 0.01, "conversion_without_click": 0.005}
PRIOR_WEIGHT = 20.0
#: Orders' coefficient of variation before any past conversion value is known.
DEFAULT_ORDER_CV = 1.0
LEVELS = (0.8, 0.95)
MIN_CAMPAIGNS_FOR_SPREAD = 3
EXACT_ORDERS = 200


@dataclass(frozen=True)
class PastCampaign:
    """One past campaign's counts, as its report gives them."""

    sent: int
    delivered: int
    clicked: int  # unique clickers
    converted: int
    #: conversions by recipients who never clicked the campaign (``None``: not counted, left out of that rate)
    converted_unclicked: int | None = None


#: the clicks' source when no recipient's text holds a link
NO_LINK = "no link in the text: nobody can click it (only links written in the template are tracked)"


@dataclass(frozen=True)
class Money:
    """The currencies of revenue and cost ("" when not known: taken as the same) and the rate that turns
    one unit of revenue's currency into cost's (``None``: none configured)."""

    revenue: str = ""
    cost: str = ""
    rate: float | None = None

    @property
    def mixed(self) -> bool:
        return bool(self.revenue and self.cost and self.revenue != self.cost)

    @property
    def factor(self) -> float | None:
        """What revenue is multiplied by to be in cost's currency; ``None`` when it cannot be."""
        if not self.mixed:
            return 1.0
        return self.rate

    def currency_of(self, metric: str) -> str:
        return {"revenue_micros": self.revenue, "cost_micros": self.cost}.get(metric, "")

    @property
    def not_comparable(self) -> str:
        return (f"revenue in {self.revenue}, cost in {self.cost}: set RELAIS_EXCHANGE_RATES "
                f"(e.g. {self.revenue}:{self.cost}=1.00) to compare them")

    @property
    def conversion(self) -> str:
        return f"revenue converted at 1 {self.revenue} = {self.rate:g} {self.cost} (RELAIS_EXCHANGE_RATES)"

    def as_dict(self) -> dict[str, Any]:
        return {"currencies": {"revenue": self.revenue, "cost": self.cost},
                "exchange_rate": ({"from": self.revenue, "to": self.cost, "rate": self.rate}
                                  if self.mixed and self.rate is not None else None)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Money:
        """A stored forecast's currencies; one stored before they were recorded knows none."""
        currencies, rate = data.get("currencies") or {}, data.get("exchange_rate") or {}
        return Money(currencies.get("revenue", ""), currencies.get("cost", ""), rate.get("rate"))


@dataclass(frozen=True)
class Inputs:
    """What a forecast needs; arrays are per recipient, ``nan`` where the contact has no prediction."""

    purchase_p: np.ndarray
    order_value: np.ndarray  # the recipient's mean order value (currency units), from their order history
    segments_per_message: float
    price_micros: int
    past: Sequence[PastCampaign] = ()
    conversion_values_micros: Sequence[int] = ()  # each past conversion's value, when it had one
    past_purchase_p: float | None = None  # mean purchase_90d of past campaigns' recipients
    money: Money = Money()
    clickable: float = 1.0  # share of recipients whose text holds a tracked link (0: a text without one)

    @property
    def size(self) -> int:
        return len(self.purchase_p)


@dataclass(frozen=True)
class Figure:
    """A forecast figure: its mean and the central 80 % and 95 % intervals of the simulation."""

    expected: float
    low80: float
    high80: float
    low95: float
    high95: float

    def covers(self, actual: float, level: float = 0.8) -> bool:
        low, high = (self.low80, self.high80) if level == 0.8 else (self.low95, self.high95)
        return low <= actual <= high

    def as_dict(self) -> dict[str, float]:
        return {"expected": self.expected, "low80": self.low80, "high80": self.high80, "low95": self.low95,
                "high95": self.high95}

    @staticmethod
    def of(samples: np.ndarray) -> Figure:
        """The mean and intervals of ``samples``; a count's ends are counts (outcomes that occurred), not the
        interpolation between two of them: "95 %: 0–1.0" clicks, its end 1.025, read as a fraction of a click."""
        levels = [0.1, 0.9, 0.025, 0.975]
        q = (np.quantile(samples, levels, method="inverted_cdf") if np.issubdtype(samples.dtype, np.integer)
             else np.quantile(samples, levels))
        return Figure(round(float(np.mean(samples)), 4), *(round(float(v), 4) for v in q))


@dataclass(frozen=True)
class Forecast:
    """The figures by name (``revenue_micros`` and ``roi`` are ``None`` when no value is known, ``roi`` also
    when revenue and cost are in currencies with no rate between them), in ``money``'s currencies;
    ``clickable`` as :attr:`Inputs.clickable` (a forecast stored before it was recorded: 1)."""

    recipients: int
    figures: dict[str, Figure | None]
    sources: dict[str, str] = field(default_factory=dict)
    money: Money = Money()
    clickable: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"recipients": self.recipients, "sources": dict(self.sources), **self.money.as_dict(),
                "clickable": self.clickable,
                "figures": {k: (v.as_dict() if v is not None else None) for k, v in self.figures.items()}}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Forecast:
        figures = {k: (Figure(**v) if v is not None else None) for k, v in data["figures"].items()}
        return Forecast(int(data["recipients"]), figures, dict(data.get("sources", {})), Money.from_dict(data),
                        float(data.get("clickable", 1.0)))


def rate_beta(successes: Sequence[int], trials: Sequence[int], prior: float) -> tuple[float, float, str]:
    """Beta(a, b) for a new campaign's rate, and what it rests on.

    Pooled counts plus the prior give the mean and the uncertainty of the average rate; with
    :data:`MIN_CAMPAIGNS_FOR_SPREAD` campaigns or more, the between-campaign variance (observed
    variance of the campaigns' rates beyond their binomial noise) is added.
    """
    total_s, total_n = float(sum(successes)), float(sum(trials))
    mean = (total_s + prior * PRIOR_WEIGHT) / (total_n + PRIOR_WEIGHT)
    mean = min(max(mean, 1e-6), 1 - 1e-6)
    variance = mean * (1 - mean) / (total_n + PRIOR_WEIGHT + 1)
    used = [(s, n) for s, n in zip(successes, trials, strict=True) if n > 0]
    if not used:
        return mean * (PRIOR_WEIGHT + 1), (1 - mean) * (PRIOR_WEIGHT + 1), "population prior"
    basis = f"{len(used)} past campaign{'s' if len(used) > 1 else ''} ({int(total_n)} messages)"
    if len(used) >= MIN_CAMPAIGNS_FOR_SPREAD:
        rates = np.array([s / n for s, n in used])
        sizes = np.array([n for _, n in used], dtype=float)
        spread = np.average((rates - mean) ** 2, weights=sizes) * len(used) / (len(used) - 1)
        between = max(0.0, float(spread - np.mean(mean * (1 - mean) / sizes)))
        # a new campaign's own spread + the mean's share of it, widened as a Student t with k - 1
        # degrees of freedom would be: a spread measured on a few campaigns is often an underestimate
        df = len(used) - 1
        variance += between * (1 + 1 / len(used)) * (df / (df - 2) if df > 2 else 3.0)
        basis += ", with their spread"
    variance = min(variance, mean * (1 - mean) * 0.999)
    strength = mean * (1 - mean) / variance - 1
    return mean * strength, (1 - mean) * strength, basis


def _relative(values: np.ndarray, reference: float | None) -> np.ndarray:
    """Each value over ``reference`` (the values' mean when none); a missing value counts at 1."""
    known = values[np.isfinite(values)]
    base = reference if reference else (float(known.mean()) if len(known) else 0.0)
    if base <= 0:
        return np.ones(len(values))
    return np.where(np.isfinite(values), values / base, 1.0)


def _order_values(inputs: Inputs, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, str] | None:
    """Per draw the mean order value (micros), per recipient its order's multiple of it, the orders'
    CV, and the basis; ``None`` when no value is known."""
    values = np.array([v for v in inputs.conversion_values_micros if v > 0], dtype=float)
    known = np.isfinite(inputs.order_value) & (inputs.order_value > 0)
    per_order = np.where(known, inputs.order_value, np.nan)
    relative = _relative(per_order, None)
    whose = counted(int(known.sum()), "recipient's", "recipients'")  # "1 recipients' mean order value"
    if len(values):
        cv = float(values.std(ddof=1) / values.mean()) if len(values) > 1 else DEFAULT_ORDER_CV
        error = values.mean() * max(cv, 0.1) / np.sqrt(len(values))
        means = np.clip(rng.normal(values.mean(), error, DRAWS), values.mean() * 0.05, None)
        basis = f"mean of {counted(len(values), 'past conversion value')}"
        if known.any():
            basis += f", scaled by {whose} mean order value"
        return means, relative, cv, basis
    if known.any():
        mean = float(np.nanmean(per_order)) * 1e6
        return np.full(DRAWS, mean), relative, DEFAULT_ORDER_CV, (
            f"{whose} mean order value from their order history (no past conversion value)")
    return None


def forecast(inputs: Inputs, *, seed: int = 0) -> Forecast:
    """Simulate the campaign (see the module docstring); the same inputs and seed give the same forecast."""
    rng = np.random.default_rng(seed)
    n = inputs.size
    past = list(inputs.past)
    sources: dict[str, str] = {}
    a, b, sources["delivered"] = rate_beta([p.delivered for p in past], [p.sent for p in past], PRIORS["delivery"])
    delivery = rng.beta(a, b, DRAWS)
    click, conversion, sources["clicks"], basis = _engagement_rates(past, min(max(inputs.clickable, 0.0), 1.0), rng)
    predicted = int(np.isfinite(inputs.purchase_p).sum())
    if predicted:
        basis += f"; each recipient scaled by its purchase probability ({predicted} of {n} predicted)"
    sources["conversions"] = basis
    weight = _relative(inputs.purchase_p, inputs.past_purchase_p)
    delivered = rng.binomial(n, delivery)
    clicks = rng.binomial(delivered, click)
    delivered_share = delivered / n if n else np.zeros(DRAWS)
    conversions = rng.poisson(delivered_share * conversion * float(weight.sum()))
    cost = n * inputs.segments_per_message * inputs.price_micros
    sources["cost_micros"] = "sendable messages × segments per message × price per segment"
    figures: dict[str, Figure | None] = {
        "delivered": Figure.of(delivered), "clicks": Figure.of(clicks), "conversions": Figure.of(conversions),
        "cost_micros": Figure.of(np.full(DRAWS, float(cost))), "revenue_micros": None, "roi": None,
    }
    values = _order_values(inputs, rng) if n else None
    if values is None:
        sources["revenue_micros"] = ("no conversion value known: no past conversion with a value, "
                                     "no recipient with an order on record")
        return Forecast(n, figures, sources, inputs.money, inputs.clickable)
    means, relative, cv, sources["revenue_micros"] = values
    revenue = _revenue(conversions, weight, means, relative, cv, rng)
    figures["revenue_micros"] = Figure.of(revenue)
    factor = inputs.money.factor
    if factor is None:
        sources["roi"] = inputs.money.not_comparable
    elif cost > 0:
        figures["roi"] = Figure.of((revenue * factor - cost) / cost)
        sources["roi"] = "(revenue − cost) ÷ cost, per draw"
        if inputs.money.mixed:
            sources["roi"] += f", {inputs.money.conversion}"
    return Forecast(n, figures, sources, inputs.money, inputs.clickable)


def _engagement_rates(past: list[PastCampaign], clickable: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Per draw the click rate and the conversion rate per delivered message, and the bases of both, for a
    campaign whose texts hold a link for the ``clickable`` share of recipients: the others cannot click, and
    convert only as past recipients did without clicking."""
    a, b, clicked = rate_beta([p.clicked for p in past], [p.delivered for p in past], PRIORS["click"])
    click = rng.beta(a, b, DRAWS) * clickable
    a, b, basis = rate_beta([p.converted for p in past], [p.delivered for p in past], PRIORS["conversion"])
    conversion = rng.beta(a, b, DRAWS)
    if clickable >= 1:
        return click, conversion, clicked, basis
    counted = [p for p in past if p.converted_unclicked is not None]
    a, b, unclicked_basis = rate_beta([p.converted_unclicked or 0 for p in counted], [p.delivered for p in counted],
                                      PRIORS["conversion_without_click"])
    unclicked = rng.beta(a, b, DRAWS)
    without = f"conversions by recipients who did not click: {unclicked_basis}"
    if clickable <= 0:
        return click, unclicked, NO_LINK, f"{without} (no link in the text)"
    share = f"{clickable:.0%}"
    return (click, clickable * conversion + (1 - clickable) * unclicked,
            f"{clicked}, for the {share} of recipients whose text has a link",
            f"{basis} for the {share} whose text has a link; for the rest, {without}")


def _revenue(conversions: np.ndarray, weight: np.ndarray, means: np.ndarray, relative: np.ndarray, cv: float,
             rng: np.random.Generator) -> np.ndarray:
    """Per draw the sum of its converters' orders: converters drawn in proportion to their chance to
    convert, each order its mean value × the converter's multiple × a Gamma variation of ``cv``.

    A draw with more than :data:`EXACT_ORDERS` conversions sums them by the central limit theorem
    (the mean and variance of one such order, times the count): the same distribution at that size,
    and a large audience's forecast stays well under a second.
    """
    revenue = np.zeros(DRAWS)
    share = weight / weight.sum()
    one_mean = float(share @ relative)
    one_var = float(share @ (relative**2)) * (1 + cv**2) - one_mean**2
    many = conversions > EXACT_ORDERS
    if many.any():
        k = conversions[many].astype(float)
        revenue[many] = means[many] * np.maximum(
            k * one_mean + np.sqrt(k * max(one_var, 0.0)) * rng.standard_normal(int(many.sum())), 0.0)
    few = np.where(many, 0, conversions)
    total = int(few.sum())
    if not total:
        return revenue
    cdf = np.cumsum(share)
    who = np.minimum(np.searchsorted(cdf, rng.random(total), side="right"), len(weight) - 1)
    draw = np.repeat(np.arange(DRAWS), few)
    shape = 1.0 / max(cv, 0.05) ** 2
    orders = means[draw] * relative[who] * rng.gamma(shape, 1.0 / shape, total)
    return revenue + np.bincount(draw, weights=orders, minlength=DRAWS)
