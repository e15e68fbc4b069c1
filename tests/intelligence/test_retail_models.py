"""Purchase-history models on synthetic customers with a known signal, and the Online Retail loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from intelligence import recommend
from intelligence import value as value_module
from intelligence.features import PRODUCT_REGULARS, customer_features, outcomes
from intelligence.propensity import BLEND, CANDIDATES, PropensityModel, label
from intelligence.recommend import RecommendModel, hit_at
from intelligence.retail_data import load_online_retail
from intelligence.send_time import SendTimeModel
from intelligence.transactions import COLUMNS
from intelligence.value import KINDS, RANKING, ValueModel, rearrange, spend_ranks
from intelligence.windows import training_windows
from tests.intelligence.retail_helpers import LAPSED_HOUR, REGULAR_HOURS, START, synthetic_lines

CUTOFF = START + pd.Timedelta(days=150)
HORIZON = 60


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return synthetic_lines()


def test_loader_reads_the_online_retail_format(tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n"
        "C536379,85123A,WHITE HANGING HEART,-1,2010-12-01 09:41:00,2.55,17850.0,United Kingdom\n"
    )
    frame = load_online_retail(path)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["customer_id"].tolist() == ["17850", "17850"]  # the guest's line is dropped
    assert frame["quantity"].tolist() == [6, -1]
    assert frame["ordered_at"].iloc[1] == pd.Timestamp("2010-12-01 09:41")
    (tmp_path / "bad.csv").write_text("InvoiceNo,StockCode\n1,2\n")
    with pytest.raises(ValueError, match="Quantity"):
        load_online_retail(tmp_path / "bad.csv")


def test_features_see_only_lines_before_the_cutoff() -> None:
    day = pd.Timestamp("2011-03-01 10:00")
    frame = pd.DataFrame(
        [("1", "o1", day, "A", "", 2, 5.0, "United Kingdom"),
         ("1", "o2", day + pd.Timedelta(days=10), "A", "", 1, 5.0, "United Kingdom"),
         ("1", "C3", day + pd.Timedelta(days=11), "A", "", -1, 5.0, "United Kingdom"),
         ("1", "o4", day + pd.Timedelta(days=40), "B", "", 9, 5.0, "United Kingdom")], columns=list(COLUMNS))
    features = customer_features(frame, day + pd.Timedelta(days=20)).loc["1"]
    assert features["orders"] == 2 and features["spend"] == 15.0
    assert features["recency_days"] == 10 and features["tenure_days"] == 20
    assert features["gap_mean"] == 10 and features["cancellations"] == 1 and features["products"] == 1
    later = outcomes(frame, day + pd.Timedelta(days=20), day + pd.Timedelta(days=60)).loc["1"]
    assert later["spend"] == 45.0 and later["orders"] == 1


def test_product_regulars_shares_say_who_else_buys_a_customers_products() -> None:
    day = pd.Timestamp("2011-03-01 10:00")
    rows = [  # three regulars (3 purchase days) buy W
        (f"R{i}", f"r{i}{k}", day + pd.Timedelta(days=7 * k), "W", "", 1, 10.0, "United Kingdom")
        for i in range(3)
        for k in range(3)
    ]
    rows += [(f"O{i}", f"o{i}", day, "G", "", 1, 10.0, "United Kingdom") for i in range(3)]  # one-off buyers of G
    rows += [
        ("X", "x", day, "W", "", 3, 10.0, "United Kingdom"),
        ("Y", "y", day, "G", "", 1, 10.0, "United Kingdom"),
        ("Z", "z", day, "W", "", 9, 10.0, "United Kingdom"),
        ("Z", "z", day, "G", "", 1, 10.0, "United Kingdom"),
    ]
    features = customer_features(pd.DataFrame(rows, columns=list(COLUMNS)), day + pd.Timedelta(days=30))
    population = 3 / 9  # regulars among the nine buyers

    def share(regulars: int, others: int) -> float:  # shrunk toward the population's with 20 buyers' weight
        return (regulars + 20 * population) / (others + 20) / population

    w_share, g_share = share(3, 4), share(0, 4)  # X's W: R0-R2 and Z; Y's G: O0-O2 and Z (never X or Y itself)
    assert features.loc["X", "product_regulars_mean"] == pytest.approx(w_share) and w_share > 1
    assert features.loc["Y", "product_regulars_mean"] == pytest.approx(g_share) and g_share < 1
    assert features.loc["R0", "product_regulars_mean"] == pytest.approx(share(2, 4))  # its own habit left out
    z = features.loc["Z"]
    assert z["product_regulars_mean"] == pytest.approx((w_share + g_share) / 2)
    assert z["product_regulars_max"] == pytest.approx(w_share)
    assert z["product_regulars_weighted"] == pytest.approx((90 * w_share + 10 * g_share) / 100)  # by spend
    assert z["products"] == 2
    young = customer_features(pd.DataFrame(rows[9:], columns=list(COLUMNS)), day + pd.Timedelta(days=30))
    assert (young["product_regulars_mean"] == 1.0).all()  # nobody is a regular yet: no signal, not a division by 0


def test_propensity_ranks_regulars_first_and_survives_storage(lines: pd.DataFrame) -> None:
    model = PropensityModel(HORIZON).fit(lines, CUTOFF)
    assert model.validation.startswith("rolling origin over 3 monthly windows")
    assert set(model.validation_auc) == {label(kind, n) for kind in (*CANDIDATES, BLEND) for n in (1, 3)}
    assert model.chosen in model.validation_auc and model.trained_rows > lines["customer_id"].nunique() / 2
    scores = model.predict(lines, CUTOFF)
    after = outcomes(lines, CUTOFF, CUTOFF + pd.Timedelta(days=HORIZON))
    bought = after["bought"].reindex(scores.index, fill_value=False)
    assert roc_auc_score(bought, scores["p_buy"]) > 0.9
    assert np.allclose(scores["churn_risk"], 1 - scores["p_buy"])
    restored = PropensityModel.from_bytes(model.to_bytes())
    assert np.allclose(restored.predict(lines, CUTOFF)["p_buy"], scores["p_buy"])
    with pytest.raises(TypeError):
        PropensityModel.from_bytes(ValueModel().to_bytes())


def test_value_expects_more_from_regulars(lines: pd.DataFrame) -> None:
    p_buy = PropensityModel(HORIZON, kind="logistic").fit(lines, CUTOFF).predict(lines, CUTOFF)["p_buy"]
    model = ValueModel(HORIZON).fit(lines, CUTOFF)
    assert model.chosen.split(", ranked by")[0] in model.validation_spearman
    assert len(model.validation_spearman) == 2 * (len(KINDS) + 1)  # amount and ranking models × 1 or all windows
    assert model.run_rate_weight == min(model.validation_revenue_error, key=model.validation_revenue_error.__getitem__)
    value = model.predict(lines, CUTOFF, p_buy)
    regular = value.index.astype(int) % 2 == 0
    assert value.loc[regular, "expected_spend"].median() > 5 * value.loc[~regular, "expected_spend"].median()
    assert (value["lifetime_value"] >= value["expected_spend"] - 1e-9).all()
    assert (value["next_purchase_at"] >= CUTOFF).all()
    # a regular is due within weeks; a customer gone for months is due now (overdue), never in the past
    assert (value.loc[regular, "next_purchase_at"] <= CUTOFF + pd.Timedelta(days=60)).mean() > 0.9


def test_spend_ranks_are_shares_within_each_window_with_ties_shared() -> None:
    spend = np.array([0.0, 0.0, 10.0, 30.0, 0.0, 500.0])
    window = np.array([0, 0, 0, 0, 1, 1])
    # window 0: the two non-spenders share ranks 1 and 2 (1.5 of 4), window 1 is ranked on its own
    assert np.allclose(spend_ranks(spend, window), [0.375, 0.375, 0.75, 1.0, 0.5, 1.0])


def test_rearrange_keeps_the_amounts_and_follows_the_ranking() -> None:
    amounts = np.array([5.0, 100.0, 0.0, 20.0])
    ranking = np.array([0.9, 0.1, 0.5, 0.7])
    out = rearrange(amounts, ranking)
    assert np.allclose(out, [100.0, 0.0, 5.0, 20.0])  # the best-ranked gets the largest amount
    assert out.sum() == amounts.sum() and sorted(out) == sorted(amounts)


def test_a_ranking_model_orders_the_spend_only_when_it_won_the_validation(lines: pd.DataFrame) -> None:
    model = ValueModel(HORIZON).fit(lines, CUTOFF)
    best = max(model.validation_spearman, key=model.validation_spearman.__getitem__)
    best_amounts = max((k for k in model.validation_spearman if not k.startswith(RANKING)),
                       key=model.validation_spearman.__getitem__)
    assert model.ranking == (best if best.startswith(RANKING) else "")
    assert model.chosen.startswith(best_amounts)
    with pytest.raises(ValueError, match="unknown spend model"):
        ValueModel(HORIZON, kind=RANKING).fit(lines, CUTOFF)


def test_a_ranked_spend_follows_the_ranking_and_keeps_the_amount_models_total(lines: pd.DataFrame) -> None:
    unranked = ValueModel(HORIZON, kind="two_part_trees").fit(lines, CUTOFF)
    assert not unranked.ranking
    windows = training_windows(lines, CUTOFF, HORIZON)
    ranked = ValueModel.from_bytes(unranked.to_bytes())
    ranked._ranker = value_module._fit(RANKING, windows.features, windows.done["spend"].to_numpy(), windows.window)
    features = customer_features(lines, CUTOFF)
    amounts, spend = unranked.predict_features(features), ranked.predict_features(features)
    order = np.argsort(value_module._predict(RANKING, ranked._ranker, features), kind="stable")
    assert (np.diff(spend[order]) >= 0).all() and not (np.diff(amounts[order]) >= 0).all()
    assert np.isclose(spend.sum(), amounts.sum())


def test_product_regulars_shares_feed_the_ranking_not_the_tweedie_amounts(lines: pd.DataFrame) -> None:
    features = customer_features(lines, CUTOFF)
    blind = features.assign(**{name: 1.0 for name in PRODUCT_REGULARS})  # as if no product told anything
    tweedie = ValueModel(HORIZON, kind="tweedie").fit(lines, CUTOFF)
    assert np.array_equal(tweedie.predict_features(features), tweedie.predict_features(blind))
    windows = training_windows(lines, CUTOFF, HORIZON)
    ranker = value_module._fit(RANKING, windows.features, windows.done["spend"].to_numpy(), windows.window)
    ranks = value_module._predict(RANKING, ranker, features)
    assert not np.allclose(ranks, value_module._predict(RANKING, ranker, blind))


def test_send_time_gives_each_customer_their_hour(lines: pd.DataFrame) -> None:
    model = SendTimeModel(HORIZON).fit(lines, CUTOFF)
    assert not model.single_hour and model.validation["hour_hit_pm1"] > model.validation["one_best_hour"]
    hours = model.predict(lines, CUTOFF)
    regular = hours.index.astype(int) % 2 == 0
    own_hour = np.array([REGULAR_HOURS[int(c) // 2 % 2] for c in hours.index[regular].astype(int) - 1000])
    assert (hours.loc[regular, "best_hour"].to_numpy() == own_hour).mean() > 0.95
    assert (hours.loc[~regular, "best_hour"] == LAPSED_HOUR).mean() > 0.5
    assert hours["personal"].all() and set(hours["best_weekday"]) <= set(range(7))


def test_send_time_falls_back_to_one_hour_when_nobody_differs(lines: pd.DataFrame) -> None:
    same = lines.assign(ordered_at=lines["ordered_at"].dt.normalize() + pd.Timedelta(hours=12))
    model = SendTimeModel(HORIZON).fit(same, CUTOFF)
    assert model.single_hour and model.best_hour == 12
    hours = model.predict(same, CUTOFF)
    assert (hours["best_hour"] == 12).all() and not hours["personal"].any()
    assert model.default() == (12, model.best_weekday)


def test_recommend_puts_favourites_first_and_never_excluded_products(lines: pd.DataFrame) -> None:
    noisy = pd.concat([lines, lines.head(50).assign(product_id="POST")])
    model = RecommendModel(HORIZON, excluded=frozenset({"POST"})).fit(noisy, CUTOFF)
    picks = model.recommend(noisy, CUTOFF)
    assert all("POST" not in products and len(products) == 10 for products in picks.values())
    favourites = lines[(lines["customer_id"] == "1000") & lines["product_id"].str.startswith("A")]["product_id"]
    assert set(favourites.unique()) <= set(picks["1000"][:3])
    restored = RecommendModel.from_bytes(model.to_bytes())
    assert restored.recommend(noisy, CUTOFF, ["1000"]) == {"1000": picks["1000"]}


def test_hit_at_counts_a_missing_recommendation_as_a_miss() -> None:
    truth = {"a": {"x", "y"}, "b": {"z"}}
    assert hit_at({"a": ["y"], "c": ["z"]}, truth) == 0.5
    assert hit_at({"a": ["y"]}, {}) is None


def test_recommend_chooses_on_a_sample_of_a_large_deployment(lines: pd.DataFrame,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recommend, "CHOOSING_CUSTOMERS", 20)
    model = RecommendModel(HORIZON).fit(lines, CUTOFF)
    assert model.validation["hit_at_10"] >= model.validation["own_history_only"] > 0.5
    assert len(model.recommend(lines, CUTOFF)) == lines["customer_id"].nunique()
