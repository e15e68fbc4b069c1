"""Predictions in the console: the contact page's card (in words) and orders, the segment builder's
prediction rule with its live count; the page at 360 px, axe clean, in Chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from api.console import predictions_card, segment_form
from contacts.orders import LineIn, OrderIn, record_order
from core import db
from intelligence import store
from tests.console import browser as tools
from tests.console.helpers import create_console_user, log_in
from tests.contacts.helpers import create_contact

HTML = {"Accept": "text/html,application/xhtml+xml"}
HTMX = {"HX-Request": "true"}


def _scored() -> tuple[int, int]:
    """Léa (scored, one order) and Hugo (never scored); ten other scored contacts for the top 10 %."""
    at = datetime.now(UTC)
    with db.session_scope() as session:
        lea = create_contact(session, 1, first_name="Léa", timezone="Europe/Paris")
        hugo = create_contact(session, 2, first_name="Hugo")
        others = [create_contact(session, 10 + n).id for n in range(9)]
        record_order(session, contact_id=lea.id, order=OrderIn(
            source="api", external_id="A-1001", ordered_at=at - timedelta(days=20), currency="EUR",
            lines=(LineIn("LAMP", "Brass lamp", 1, 45_000_000),)))  # fmt: skip
        scores = {"purchase_90d": 0.72, "churn_risk": 0.28, "expected_spend": 61.5, "clv": 180.0}
        for kind, value in scores.items():
            model = store.register_version(session, kind=kind, version="20260601T120000")
            detail: dict[str, object] = {"percentile": 100.0}
            if kind == "purchase_90d":
                detail["products"] = [{"id": "CANDLE", "description": "Fig candle"},
                                      {"id": "VASE", "description": "Stoneware vase"}]  # fmt: skip
            rest = [store.Score(c, value / 2, {"percentile": 10.0 * (n + 1)}) for n, c in enumerate(others)]
            store.write_predictions(session, model, [store.Score(lea.id, value, detail), *rest], computed_at=at)
        due = (at + timedelta(days=9)).date().isoformat()
        wait = store.register_version(session, kind="next_purchase_days", version="20260601T120000")
        store.write_predictions(session, wait, [store.Score(lea.id, 9.0, {"percentile": 50.0, "date": due})])
        hour = store.register_version(session, kind="best_hour", version="20260601T120000")
        store.write_predictions(session, hour, [store.Score(lea.id, 10.0, {
            "percentile": 50.0, "hour": 10, "day": 1, "timezone": "Europe/Paris", "personal": True})])  # fmt: skip
        return lea.id, hugo.id


def _marketer(client: TestClient) -> str:
    _, secret = create_console_user("mia@example.com", role="marketer")
    return log_in(client, "mia@example.com", secret)


def test_the_contact_page_shows_predictions_in_words_and_the_orders(app_client: TestClient) -> None:
    lea, hugo = _scored()
    _marketer(app_client)
    page = app_client.get(f"/console/contacts/{lea}", headers=HTML)
    assert page.status_code == 200, page.text
    card = page.text[page.text.index('id="predictions"') : page.text.index('id="orders-title"')]
    assert "Likely to buy in the next 90 days</dt><dd>72 %" in card
    assert "Churn risk</dt><dd>low (28 % chance of no order in 90 days)" in card
    assert "Expected spend, next 90 days</dt><dd>61.50 EUR" in card and "180.00 EUR" in card
    assert "(in 9 days)" in card and "Tuesdays around 10:00 (Europe/Paris)" in card
    assert "Fig candle, Stoneware vase" in card and "Model version 20260601T120000" in card
    assert "A-1001" in page.text and "Brass lamp" in page.text and "45.00 EUR" in page.text
    never = app_client.get(f"/console/contacts/{hugo}", headers=HTML)
    assert "No prediction yet" in never.text and "No order recorded for this contact." in never.text


def test_churn_bands() -> None:
    assert [predictions_card.churn_band(r) for r in (0.0, 0.39, 0.4, 0.69, 0.7, 1.0)] == [
        "low", "low", "medium", "medium", "high", "high"]  # fmt: skip


def test_prediction_rules_round_trip_through_the_builder() -> None:
    rules = {"field": "prediction", "kind": "clv", "op": "top_percent", "value": 10}
    builder = segment_form.from_rules(rules)
    assert builder is not None
    assert builder.groups[0].rows[0] == segment_form.Row("prediction", "top_percent", "10", "clv")
    assert segment_form.to_rules(builder, {}) == {"all": [rules]}
    stale = segment_form.from_form(_prediction_form("purchase_90d", "gt", "opted_in"))  # left from the consent row
    assert stale.groups[0].rows[0].value == ""


def _prediction_form(kind: str, op: str, value: str) -> dict[str, list[str]]:
    return {"join": ["all"], "group_join": ["all"], "row_group": ["0"], "field": ["prediction"], "op": [op],
            "value": [value], "extra": [kind]}  # fmt: skip


def test_the_builder_offers_prediction_rules_with_a_live_count(app_client: TestClient) -> None:
    _scored()
    csrf = _marketer(app_client)
    headers = {**HTMX, "X-CSRF-Token": csrf}
    top = app_client.post("/console/segments/preview", data=_prediction_form("purchase_90d", "top_percent", "10"),
                          headers=headers)  # fmt: skip
    assert top.status_code == 200 and 'id="segment-count">1<' in top.text and "Léa" in top.text
    above = app_client.post("/console/segments/preview", data=_prediction_form("clv", "gte", "80"), headers=headers)
    assert 'id="segment-count">10<' in above.text
    wrong = app_client.post("/console/segments/preview", data=_prediction_form("clv", "gt", "lots"), headers=headers)
    assert 'id="segment-problem"' in wrong.text and "number" in wrong.text
    drawn = app_client.post("/console/segments/builder", data={**_prediction_form("clv", "top_percent", "5"),
                                                                "action": "add-group"}, headers=headers)  # fmt: skip
    assert drawn.status_code == 200
    assert '<option value="clv" selected>Expected lifetime value (EUR)</option>' in drawn.text  # the orders' currency
    assert '<option value="top_percent" selected>is in the top … %</option>' in drawn.text


@pytest.mark.browser
def test_the_card_and_a_prediction_rule_at_360_px(live_server: str, page: Page) -> None:
    lea, _ = _scored()
    tools.sign_in_as(page, live_server, "mia@example.com", "marketer")
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})  # a marketer on a phone
    page.goto(f"{live_server}/console/contacts/{lea}")
    expect(page.locator("#prediction-facts")).to_contain_text("72 %")
    # each prediction in words beside or under its label: the labels' column ("Chance to buy in the next 90 days")
    # left the words 36 px at 360 px, "Thursdays around 14:00 (Europe/Paris)" a word a line
    widths = page.eval_on_selector_all("#prediction-facts dd", "dds => dds.map(dd => dd.getBoundingClientRect().width)")
    assert widths and min(widths) >= 200, widths
    tools.fits(page)
    page.set_viewport_size({"width": tools.PHONE_WIDTH, "height": 740})
    page.goto(f"{live_server}/console/segments/new")
    page.get_by_label("Field, condition 1 of group 1").select_option("prediction")
    expect(page.get_by_label("Prediction, condition 1 of group 1")).to_be_visible()
    page.get_by_label("Operator, condition 1 of group 1").select_option("top_percent")
    value = page.get_by_label("Value, condition 1 of group 1")
    expect(value).to_have_attribute("placeholder", "per cent, e.g. 10")  # the re-drawn row, before typing
    tools.settled(page)
    value.focus()
    page.keyboard.type("10")
    page.keyboard.press("Tab")
    expect(page.locator("#segment-count")).to_have_text("1", timeout=30_000)  # a live count on a loaded machine
    tools.fits(page)
