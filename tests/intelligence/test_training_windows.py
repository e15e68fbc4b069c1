"""Training windows at monthly origins and the rolling-origin validation that chooses on them."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from intelligence import windows as windows_module
from intelligence.features import customer_features
from intelligence.propensity import PropensityModel
from intelligence.value import ValueModel
from intelligence.windows import MIN_HISTORY_DAYS, STEP_DAYS, origins, training_windows
from tests.intelligence.retail_helpers import START, synthetic_lines

CUTOFF = START + pd.Timedelta(days=150)
HORIZON = 60


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return synthetic_lines(customers=60, seed=3)


def test_origins_step_back_a_month_while_history_remains(lines: pd.DataFrame) -> None:
    found = origins(lines, CUTOFF, HORIZON)
    assert found[0] == CUTOFF - pd.Timedelta(days=HORIZON)
    assert all(a - b == pd.Timedelta(days=STEP_DAYS) for a, b in pairwise(found))
    assert found[-1] >= lines["ordered_at"].min() + pd.Timedelta(days=MIN_HISTORY_DAYS)
    assert found[-1] - pd.Timedelta(days=STEP_DAYS) < lines["ordered_at"].min() + pd.Timedelta(days=MIN_HISTORY_DAYS)
    assert origins(lines, CUTOFF, HORIZON, limit=1) == found[:1]
    # a history shorter than the minimum still gives the latest window: a young shop can learn
    assert origins(lines, START + pd.Timedelta(days=HORIZON + 5), HORIZON) == [START + pd.Timedelta(days=5)]


def test_windows_stack_each_origin_with_outcomes_before_the_cutoff(lines: pd.DataFrame) -> None:
    windows = training_windows(lines, CUTOFF, HORIZON)
    found = origins(lines, CUTOFF, HORIZON)
    assert windows.count == len(found) == 3
    for k, origin in enumerate(found):
        rows = windows.features[windows.window == k]
        assert rows.equals(customer_features(lines, origin))
        assert origin + pd.Timedelta(days=HORIZON) <= CUTOFF  # every outcome is known at the cutoff
    assert windows.done["bought"].dtype == bool and (windows.done["spend"] >= 0).all()
    assert windows.done.loc[windows.done["spend"] > 0, "bought"].all()
    assert list(windows.rows(1)) == list(np.flatnonzero(windows.window == 0))
    assert len(windows.rows(3)) == len(windows.window)


def test_rolling_origin_judges_the_latest_window_on_other_customers_older_rows(lines: pd.DataFrame) -> None:
    windows = training_windows(lines, CUTOFF, HORIZON)
    customers, judged_total = windows.customers, 0
    for count, learnt in ((1, {1}), (3, {1, 2})):
        for train, judged in windows.validation_splits(count):
            assert set(windows.window[train]) == learnt and set(windows.window[judged]) == {0}
            assert not set(customers[train]) & set(customers[judged])
            judged_total += len(judged)
    assert judged_total == 2 * len(windows.judged())  # every latest row judged once per candidate
    assert "rolling origin over 3 monthly windows" in windows.describe()


def test_one_window_falls_back_to_folds_inside_it(lines: pd.DataFrame) -> None:
    windows = training_windows(lines, CUTOFF, HORIZON, limit=1)
    assert windows.window_choices() == [1] and "inside the one training window" in windows.describe()
    for train, judged in windows.validation_splits(1):
        assert set(windows.window[train]) == {0}
        assert not set(windows.customers[train]) & set(windows.customers[judged])


def test_models_share_windows_built_once_but_refuse_another_cutoffs(lines: pd.DataFrame) -> None:
    windows = training_windows(lines, CUTOFF, HORIZON)
    shared = PropensityModel(HORIZON).fit(lines, CUTOFF, windows)
    own = PropensityModel(HORIZON).fit(lines, CUTOFF)
    assert shared.validation_auc == own.validation_auc and shared.chosen == own.chosen
    features = customer_features(lines, CUTOFF)
    assert np.allclose(shared.predict_features(features), own.predict_features(features))
    baseline = PropensityModel(HORIZON, kind="rfm_logistic").fit(lines, CUTOFF, windows)
    assert baseline.trained_rows == len(windows.judged()) and not baseline.validation_auc  # latest window only
    with pytest.raises(ValueError, match="built for"):
        ValueModel(HORIZON).fit(lines, CUTOFF + pd.Timedelta(days=1), windows)


def test_a_large_deployment_validates_on_a_sample_of_its_customers(lines: pd.DataFrame,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    windows = training_windows(lines, CUTOFF, HORIZON)
    monkeypatch.setattr(windows_module, "CHOOSING_CUSTOMERS", 20)
    seen: set[str] = set()
    for train, judged in windows.validation_splits(3):
        seen |= set(windows.customers[train]) | set(windows.customers[judged])
        assert not set(windows.customers[train]) & set(windows.customers[judged])
    assert len(seen) == 20 < len(set(windows.customers))
    model = PropensityModel(HORIZON).fit(lines, CUTOFF, windows)
    assert model.trained_rows == len(windows.rows(model.windows))  # the final model learns from everyone
