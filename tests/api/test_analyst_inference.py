"""An analyst cannot read one person's prediction by counting: arbitrary segment rules are a marketer's.

The analyst role reads predictions across contacts only (``GET /api/v1/contacts/{id}/predictions`` is a
403 for them, the summary withholds kinds fewer than 5 contacts hold). ``POST /api/v1/segments/preview``
counted any unsaved rules for an analyst, so the shop's customer number (a segmentable attribute)
and a prediction threshold, bisected, gave a named customer's score to four decimals in 14 requests.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from contacts import attributes, service
from core import db
from intelligence import store
from tests.helpers import auth_headers


def _bisect(app_client: TestClient, headers: dict[str, str], customer: str) -> float | None:
    """The exploit: how far the counts of (customer number = X, churn risk > t) narrow the score down."""
    low, high = 0.0, 1.0
    for _ in range(14):
        middle = (low + high) / 2
        rules = {"all": [{"field": "attribute", "name": "customer_id", "op": "eq", "value": customer},
                         {"field": "prediction", "kind": "churn_risk", "op": "gt", "value": middle}]}
        answer = app_client.post("/api/v1/segments/preview", headers=headers, json={"rules": rules})
        if answer.status_code != 200:
            return None
        low, high = (middle, high) if answer.json()["count"] else (low, middle)
    return low


def test_an_analyst_cannot_bisect_a_named_customers_prediction(app_client: TestClient) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="customer_id", type="string", segmentable=True)
        target = service.create(session, phone="+33612345601", attributes={"customer_id": "12748"})
        service.create(session, phone="+33612345602", attributes={"customer_id": "14911"})
        model = store.register_version(session, kind="churn_risk", version="v1", metrics={"validation": "n/a"})
        store.write_predictions(session, model, [store.Score(target.id, 0.0667, {})],
                                computed_at=datetime(2026, 6, 1, tzinfo=UTC))
    analyst, marketer = auth_headers("analyst"), auth_headers("marketer")
    assert app_client.get(f"/api/v1/contacts/{target.id}/predictions", headers=analyst).status_code == 403

    assert _bisect(app_client, analyst, "12748") is None  # refused: it read 0.0667 before
    refused = app_client.post("/api/v1/segments/preview", headers=analyst, json={"rules": {"all": []}})
    assert refused.status_code == 403, refused.text

    # the marketer composing a segment still previews it (they read the contact's predictions anyway)
    found = _bisect(app_client, marketer, "12748")
    assert found is not None and abs(found - 0.0667) < 0.001
