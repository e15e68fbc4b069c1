"""The scoring job on a synthetic shop with a known signal: every contact scored, versioned, ranked."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from contacts import segments
from contacts.models import PREDICTION_KINDS, Prediction
from core import db
from core.settings import Settings
from intelligence import store
from intelligence.history import order_lines
from intelligence.models import ModelVersion
from intelligence.scoring import SCORED, TOO_LITTLE, percentiles, score_contacts
from tests.intelligence.scoring_helpers import NOW, build_shop

WRITTEN = ("purchase_90d", "churn_risk", "expected_spend", "clv", "next_purchase_days", "best_hour")


def test_every_contact_is_scored_with_a_version_and_the_signal_shows(runtime: Settings) -> None:
    with db.session_scope() as session:
        made = build_shop(session)
        result = score_contacts(session, now=NOW)
    assert result.path == SCORED, result.reason
    assert result.customers == 60 and result.contacts_scored == 63 and result.defaults == 3
    assert set(result.written) == set(WRITTEN) and set(WRITTEN) <= set(PREDICTION_KINDS)
    assert result.written["purchase_90d"] == 63 and result.written["next_purchase_days"] == 60
    with db.session_scope() as session:
        versions = session.scalars(select(ModelVersion)).all()
        assert {v.kind for v in versions} == set(WRITTEN)
        propensity = next(v for v in versions if v.kind == "purchase_90d")
        assert propensity.params["model"] and "validation" in propensity.metrics
        regular = [store.current(session, c) for c in made["regular"]]
        lapsed = [store.current(session, c) for c in made["lapsed"]]
        newcomer = store.current(session, made["none"][0])
    # who buys next: every regular above every lapsed customer, and in the top half
    assert min(p["purchase_90d"].value for p in regular) > max(p["purchase_90d"].value for p in lapsed)
    assert all(p["purchase_90d"].detail["percentile"] > 50 for p in regular)
    assert all(abs(p["churn_risk"].value - (1 - p["purchase_90d"].value)) < 1e-9 for p in regular)
    assert min(p["expected_spend"].value for p in regular) > max(p["expected_spend"].value for p in lapsed)
    # when: a regular orders every 12 days, so their next order is due within two weeks
    soon = date.fromisoformat(regular[0]["next_purchase_days"].detail["date"])
    assert NOW.date() <= soon <= NOW.date() + timedelta(days=14)
    # what and at which hour: their own lamp and candle; 09:00 UTC is 10:00 in Paris in winter
    assert {p["id"] for p in regular[0]["purchase_90d"].detail["products"][:2]} == {"LAMP", "CANDLE"}
    assert regular[0]["purchase_90d"].detail["products"][0]["description"] in {"Brass lamp", "Fig candle"}
    assert regular[0]["best_hour"].detail["hour"] == 10 and regular[0]["best_hour"].detail["timezone"] == "Europe/Paris"
    # a contact without orders: the population's value, said so, and no next-purchase date
    assert newcomer["purchase_90d"].detail["default"] is True and "next_purchase_days" not in newcomer
    assert newcomer["best_hour"].detail["default"] is True
    # a second run (the next day) replaces them: one current prediction per contact and kind, a new version
    with db.session_scope() as session:
        again = score_contacts(session, now=NOW + timedelta(days=1))
        per_kind = dict(session.execute(select(Prediction.kind, func.count()).group_by(Prediction.kind)).all())
        stored = {v for (v,) in session.execute(select(ModelVersion.version).where(ModelVersion.kind == "clv"))}
    assert again.path == SCORED and per_kind == {kind: 63 if kind != "next_purchase_days" else 60 for kind in WRITTEN}
    assert stored == {result.versions["clv"], again.versions["clv"]} and len(stored) == 2


def test_too_little_history_stores_nothing_and_says_why_unless_a_reference_helps(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        made = build_shop(session, customers=20, without_orders=0)
        result = score_contacts(session, now=NOW)
        assert session.scalar(select(func.count()).select_from(Prediction)) == 0
        assert result.path == TOO_LITTLE and "20 customers" in result.reason and "50" in result.reason
        assert result.written == {}
        # the demo's path: other customers' history to learn from, only the shop's contacts scored
        own = order_lines(session)
        copies = [own.assign(customer_id=f"x{k}-" + own["customer_id"], order_id=f"x{k}-" + own["order_id"])
                  for k in range(3)]  # fmt: skip
        helped = score_contacts(session, now=NOW, reference=pd.concat(copies), excluded=frozenset({"VASE"}))
        assert helped.path == SCORED and "from the reference history" in helped.reason
        assert helped.contacts_scored == 20 and helped.written["purchase_90d"] == 20
        lapsed = store.current(session, made["lapsed"][0])["purchase_90d"].detail["products"]
        assert "VASE" not in {p["id"] for p in lapsed}  # excluded products are never recommended
        top = segments.count(session, {"field": "prediction", "kind": "purchase_90d", "op": "top_percent", "value": 50})
        assert top == 10  # percentiles among the shop's own 20 contacts: the 10 regulars


def test_percentiles_count_the_values_at_or_below() -> None:
    assert percentiles(np.array([1.0, 2.0, 2.0, 4.0])).tolist() == [25.0, 75.0, 75.0, 100.0]
