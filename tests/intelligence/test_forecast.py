"""The campaign forecast: its intervals cover simulated outcomes at about the stated rate, and it
says which sources it used."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from intelligence.forecast import Figure, Forecast, Inputs, Money, PastCampaign, forecast, rate_beta

RATES = {"delivery": 0.93, "click": 0.08, "conversion": 0.03}
KAPPA = 300.0  # campaigns' rates vary around the deployment's: Beta(mean * KAPPA, (1 - mean) * KAPPA)
ORDER_MEAN, ORDER_CV = 40_000_000, 0.8
P_BUY = (2.0, 20.0)  # recipients' purchase probabilities ~ Beta(2, 20)


def _rate(rng: np.random.Generator, name: str) -> float:
    mean = RATES[name]
    return float(rng.beta(mean * KAPPA, (1 - mean) * KAPPA))


def _orders(rng: np.random.Generator, count: int) -> np.ndarray:
    shape = 1 / ORDER_CV**2
    return rng.gamma(shape, ORDER_MEAN / shape, count)


def _campaign(rng: np.random.Generator, size: int) -> tuple[PastCampaign, np.ndarray, np.ndarray]:
    """One send from the true process: its counts, its recipients' purchase probabilities, its order values."""
    p_buy = rng.beta(*P_BUY, size)
    delivered = rng.random(size) < _rate(rng, "delivery")
    clicked = delivered & (rng.random(size) < _rate(rng, "click"))
    chance = np.clip(_rate(rng, "conversion") * p_buy / (P_BUY[0] / sum(P_BUY)), 0, 1)
    converted = delivered & (rng.random(size) < chance)
    values = _orders(rng, int(converted.sum()))
    counts = PastCampaign(sent=size, delivered=int(delivered.sum()), clicked=int(clicked.sum()),
                          converted=int(converted.sum()))
    return counts, p_buy, values


def _trial(seed: int) -> tuple[Forecast, PastCampaign, float]:
    rng = np.random.default_rng(seed)
    past: list[PastCampaign] = []
    values: list[int] = []
    for _ in range(6):
        counts, _, orders = _campaign(rng, int(rng.integers(400, 1500)))
        past.append(counts)
        values.extend(int(v) for v in orders)
    truth, p_buy, orders = _campaign(rng, 800)
    inputs = Inputs(purchase_p=p_buy, order_value=np.full(800, np.nan), segments_per_message=1.0, price_micros=50_000,
                    past=past, conversion_values_micros=values, past_purchase_p=P_BUY[0] / sum(P_BUY))
    return forecast(inputs, seed=seed), truth, float(orders.sum())


def test_intervals_cover_simulated_campaigns_at_about_the_stated_rate() -> None:
    hits: dict[str, list[tuple[bool, bool]]] = {"delivered": [], "clicks": [], "conversions": [],
                                                 "revenue_micros": []}
    for seed in range(150):
        made, truth, revenue = _trial(seed)
        actual = {"delivered": truth.delivered, "clicks": truth.clicked, "conversions": truth.converted,
                  "revenue_micros": revenue}
        for name, value in actual.items():
            figure = made.figures[name]
            assert figure is not None
            hits[name].append((figure.covers(value, 0.8), figure.covers(value, 0.95)))
    for name, pairs in hits.items():
        at80 = np.mean([a for a, _ in pairs])
        at95 = np.mean([b for _, b in pairs])
        assert 0.7 <= at80 <= 0.92, (name, at80)
        assert at95 >= 0.88, (name, at95)


def test_without_history_or_predictions_priors_are_used_and_revenue_is_unknown() -> None:
    inputs = Inputs(purchase_p=np.full(200, np.nan), order_value=np.full(200, np.nan), segments_per_message=2.0,
                    price_micros=50_000)
    made = forecast(inputs)
    assert made.sources["delivered"] == "population prior"
    assert "purchase probability" not in made.sources["conversions"]
    assert made.figures["revenue_micros"] is None and made.figures["roi"] is None
    cost = made.figures["cost_micros"]
    assert cost is not None and cost.expected == cost.low95 == cost.high95 == 200 * 2 * 50_000
    delivered = made.figures["delivered"]
    assert delivered is not None and 180 <= delivered.expected <= 200 and delivered.low80 < delivered.high80


def test_predictions_move_the_forecast_and_give_revenue_without_past_values() -> None:
    keen = Inputs(purchase_p=np.full(500, 0.4), order_value=np.full(500, 50.0), segments_per_message=1.0,
                  price_micros=50_000, past_purchase_p=0.1)
    cold = Inputs(purchase_p=np.full(500, 0.05), order_value=np.full(500, 50.0), segments_per_message=1.0,
                  price_micros=50_000, past_purchase_p=0.1)
    hot, low = forecast(keen), forecast(cold)
    assert hot.figures["conversions"].expected > 6 * low.figures["conversions"].expected  # type: ignore[union-attr]
    revenue = hot.figures["revenue_micros"]
    assert revenue is not None and "mean order value" in hot.sources["revenue_micros"]
    per_conversion = revenue.expected / hot.figures["conversions"].expected  # type: ignore[union-attr]
    assert per_conversion == pytest.approx(50_000_000, rel=0.1)  # one order of the recipients' mean value
    assert hot.figures["roi"] is not None


def test_spread_between_campaigns_widens_the_rate() -> None:
    steady = rate_beta([50, 50, 50], [1000, 1000, 1000], 0.05)
    varied = rate_beta([10, 50, 90], [1000, 1000, 1000], 0.05)
    assert steady[0] / (steady[0] + steady[1]) == pytest.approx(varied[0] / (varied[0] + varied[1]))
    assert varied[0] + varied[1] < (steady[0] + steady[1]) / 5  # a weaker Beta: wider
    assert "3 past campaigns" in varied[2] and "spread" in varied[2]


def test_round_trip_and_coverage_levels() -> None:
    made = forecast(Inputs(purchase_p=np.full(50, 0.1), order_value=np.full(50, 50.0), segments_per_message=1.0,
                           price_micros=10_000))
    assert Forecast.from_dict(made.as_dict()) == made
    figure = Figure(10, 8, 12, 6, 14)
    assert figure.covers(7, 0.95) and not figure.covers(7, 0.8)


def test_large_audiences_sum_orders_by_the_central_limit_and_agree_with_the_exact_sum() -> None:
    past = [PastCampaign(sent=20_000, delivered=19_000, clicked=1_500, converted=600)] * 4
    values = [int(v) for v in np.random.default_rng(1).gamma(2.0, 15_000_000, 400)]
    def run(size: int) -> Forecast:
        return forecast(Inputs(purchase_p=np.full(size, np.nan), order_value=np.full(size, np.nan),
                               segments_per_message=1, price_micros=50_000, past=past,
                               conversion_values_micros=values))
    large, small = run(40_000), run(2_000)  # about 1,200 and 60 conversions per draw
    for made in (large, small):
        revenue, conversions = made.figures["revenue_micros"], made.figures["conversions"]
        assert revenue is not None and conversions is not None
        per_order = revenue.expected / conversions.expected
        assert per_order == pytest.approx(np.mean(values), rel=0.05)
    wide = large.figures["revenue_micros"]
    assert wide is not None and wide.low95 < wide.low80 < wide.expected < wide.high80 < wide.high95


def test_roi_is_in_one_currency_or_not_at_all() -> None:
    keen = Inputs(purchase_p=np.full(500, 0.4), order_value=np.full(500, 50.0), segments_per_message=1.0,
                  price_micros=50_000, past_purchase_p=0.1)
    plain = forecast(keen, seed=3)
    same = forecast(dataclasses.replace(keen, money=Money("EUR", "EUR")), seed=3)
    assert same.figures == plain.figures and same.sources == plain.sources  # one currency: nothing changes
    apart = forecast(dataclasses.replace(keen, money=Money("GBP", "EUR")), seed=3)
    assert apart.figures["roi"] is None and apart.figures["revenue_micros"] == plain.figures["revenue_micros"]
    assert apart.sources["roi"].startswith("revenue in GBP, cost in EUR: set RELAIS_EXCHANGE_RATES")
    rated = forecast(dataclasses.replace(keen, money=Money("GBP", "EUR", 1.17)), seed=3)
    roi, revenue, cost = (rated.figures[k] for k in ("roi", "revenue_micros", "cost_micros"))
    assert roi is not None and revenue is not None and cost is not None
    assert roi.expected == pytest.approx((revenue.expected * 1.17 - cost.expected) / cost.expected, rel=1e-3)
    assert "1 GBP = 1.17 EUR" in rated.sources["roi"]
    stored = Forecast.from_dict(rated.as_dict())
    assert stored.money == Money("GBP", "EUR", 1.17) and stored.as_dict() == rated.as_dict()
    assert Forecast.from_dict({"recipients": 1, "figures": {}}).money == Money()  # stored before currencies


def test_a_counts_interval_ends_are_counts() -> None:
    """The wizard read "Clicks (unique) 0.2 (80 %: 0–1; 95 %: 0–1.0)": the 97.5th percentile of whole clicks,
    interpolated between the 3,900th draw (1) and the 3,901st (2), was 1.025 clicks."""
    draws = np.array([0] * 3899 + [1] + [2] * 100)
    figure = Figure.of(draws)
    assert (figure.low95, figure.high95) == (0.0, 1.0) and float(figure.high95).is_integer()
    assert Figure.of(draws.astype(float)).high95 == pytest.approx(1.025)  # an amount keeps its interpolation
    made = forecast(Inputs(purchase_p=np.full(5, np.nan), order_value=np.full(5, np.nan), segments_per_message=1.0,
                           price_micros=50_000))
    for name in ("delivered", "clicks", "conversions"):
        shown = made.figures[name]
        assert shown is not None
        assert all(float(end).is_integer() for end in (shown.low80, shown.high80, shown.low95, shown.high95)), shown
