"""A segment on a prediction says how many contacts it leaves out for want of one. Contacts imported since the last
scoring hold no prediction, so "chance to buy > 0.3" silently dropped them: the builder explained it only when nobody
held that prediction. The builder's preview and ``POST /api/v1/segments/preview`` now count them and say when the
daily scoring gives them one. Each test fails without the fix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.console.test_contact_predictions import HTMX, _marketer, _scored
from tests.console.test_segment_empty import _rows
from tests.helpers import auth_headers


def _next_midnight() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


def test_the_builder_counts_the_contacts_a_prediction_rule_leaves_out(app_client: TestClient) -> None:
    _scored()  # Léa 72 % and nine others 36 % to buy; Hugo, added since, never scored
    csrf = _marketer(app_client)
    shown = app_client.post("/console/segments/preview", data=_rows(("purchase_90d", "gt", "0.3")),
                            headers={**HTMX, "X-CSRF-Token": csrf})
    assert shown.status_code == 200, shown.text
    assert 'id="segment-count">10<' in shown.text
    note = re.search(r'<p class="notice" data-left-out="purchase_90d">(.*?)</p>', shown.text, re.S)
    assert note is not None, shown.text  # before: the count alone
    words = re.sub(r"\s+", " ", note[1])
    assert words.startswith("1 contact left out because they have no “Chance to buy in 90 days (0-1)” prediction "
                            "yet: each contact gets one at the daily scoring after it is added."), words
    assert f'<time datetime="{_next_midnight()}" data-local-time>' in words
    assert 'hx-post="/console/order-imports/score"' in words  # "Score now", the order import page's action

    everyone_scored = app_client.post("/console/segments/preview", data=_rows(("churn_risk", "lt", "0.2")),
                                      headers={**HTMX, "X-CSRF-Token": csrf})
    assert "data-left-out" in everyone_scored.text  # Hugo again, under "churn risk"
    assert "data-left-out" not in app_client.post(
        "/console/segments/preview", data={**_rows(("purchase_90d", "gt", "0.3")), "field": ["consent"],
                                           "op": ["eq"], "value": ["opted_in"], "extra": [""]},
        headers={**HTMX, "X-CSRF-Token": csrf}).text  # no prediction read: nothing to say


def test_the_api_preview_counts_them_too(app_client: TestClient) -> None:
    _scored()
    rules = {"all": [{"field": "prediction", "kind": "purchase_90d", "op": "gt", "value": 0.3}]}
    answer = app_client.post("/api/v1/segments/preview", headers=auth_headers("marketer"), json={"rules": rules})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 10
    assert [(gap["kind"], gap["contacts"]) for gap in body["left_out"]] == [("purchase_90d", 1)]
    assert datetime.fromisoformat(body["left_out"][0]["next_scoring"]).isoformat() == _next_midnight()
