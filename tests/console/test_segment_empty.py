"""A segment that matches nobody says why. Walking the marketer's journey on the demo, "likely to buy > 0.6 and churn
risk at least 0.7" (the contact page's "high") read "0 contacts right now" and nothing else, while every customer
holds a churn risk of 2 % to 3 %: a mistyped threshold and an empty shop looked the same. Each test fails without
the fix."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.test_contact_predictions import HTMX, _marketer, _scored


def _rows(*rows: tuple[str, str, str], groups: tuple[int, ...] = ()) -> dict[str, list[str]]:
    """The builder's form for prediction rows (kind, operator, value), all in group 1 unless ``groups`` says."""
    placed = groups or tuple(0 for _ in rows)
    return {"join": ["all"], "group_join": ["all"] * (max(placed) + 1), "row_group": [str(g) for g in placed],
            "field": ["prediction"] * len(rows), "op": [op for _, op, _ in rows], "value": [v for _, _, v in rows],
            "extra": [kind for kind, _, _ in rows]}  # fmt: skip


def _notes(client: TestClient, csrf: str, form: dict[str, list[str]]) -> list[str]:
    shown = client.post("/console/segments/preview", data=form, headers={**HTMX, "X-CSRF-Token": csrf})
    assert shown.status_code == 200, shown.text
    assert 'id="segment-count">0<' in shown.text, shown.text
    return [re.sub(r"\s+", " ", n).strip() for n in re.findall(r"<p class=\"notice\" data-empty>(.*?)</p>",
                                                                 shown.text, re.S)]  # fmt: skip


def test_a_threshold_beyond_every_contacts_value_is_named_with_the_values_they_hold(app_client: TestClient) -> None:
    _scored()  # Léa: chance to buy 72 %, churn risk 28 %, spend 61.50 EUR; nine others half of hers
    csrf = _marketer(app_client)
    likely_at_risk = _rows(("purchase_90d", "gt", "0.6"), ("churn_risk", "gte", "0.7"))
    assert _notes(app_client, csrf, likely_at_risk) == [  # before: "0 contacts right now" alone
        "Condition 2 of group 1 matches no contact on its own: Churn risk goes from 14 % to 28 % among the 10 "
        "contacts that have one."]  # fmt: skip
    big_spenders = _rows(("expected_spend", "gt", "1000"))
    assert _notes(app_client, csrf, big_spenders) == [
        "Condition 1 of group 1 matches no contact on its own: Expected spend, 90 days goes from 30.75 EUR to "
        "61.50 EUR among the 10 contacts that have one."]  # fmt: skip


def test_conditions_that_each_match_someone_but_not_together_say_so(app_client: TestClient) -> None:
    _scored()
    csrf = _marketer(app_client)
    likely_and_loyal = _rows(("purchase_90d", "gt", "0.6"), ("churn_risk", "lt", "0.2"))
    assert _notes(app_client, csrf, likely_and_loyal) == [
        "Each condition matches contacts on its own (Condition 1 of group 1: 1; condition 2 of group 1: 9), but no "
        "contact meets all of them at once."]  # fmt: skip
    in_two_groups = _rows(("purchase_90d", "gt", "0.6"), ("churn_risk", "lt", "0.2"), groups=(0, 1))
    assert _notes(app_client, csrf, in_two_groups)[0].endswith("but no contact meets the groups as they are combined.")
