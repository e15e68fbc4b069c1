"""Segment rules over stored predictions ("likely to buy > 0.6", "top 10 % by value"), in SQL on
SQLite and PostgreSQL: the rows the scoring job writes through ``intelligence.store``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from contacts import segments
from core import db
from core.errors import ValidationFailed
from core.settings import Settings
from intelligence import store
from intelligence.store import Score
from tests.contacts.helpers import create_contact


def _ids(session: Session, rules: dict) -> set[int]:
    return set(session.scalars(segments.validated(session, rules)))


def test_prediction_thresholds_and_top_percent(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        people = [create_contact(session, n) for n in range(1, 11)]
        unscored = create_contact(session, 11)
        buy = store.register_version(session, kind="purchase_90d", version="v1")
        store.write_predictions(session, buy, [Score(c.id, n / 10) for n, c in enumerate(people, start=1)])
        value = store.register_version(session, kind="clv", version="v1")
        # the scoring job stores each value's percentile among scored contacts
        store.write_predictions(
            session, value, [Score(c.id, 100.0 * n, {"percentile": 10.0 * n}) for n, c in enumerate(people, 1)]
        )
        likely = {"all": [{"field": "prediction", "kind": "purchase_90d", "op": "gt", "value": 0.6}]}
        assert _ids(session, likely) == {c.id for c in people[6:]}
        unlikely = {"all": [{"field": "prediction", "kind": "purchase_90d", "op": "lte", "value": 0.2}]}
        assert _ids(session, unlikely) == {people[0].id, people[1].id}
        top = {"all": [{"field": "prediction", "kind": "clv", "op": "top_percent", "value": 20}]}
        assert _ids(session, top) == {people[8].id, people[9].id}
        both = {"all": [likely["all"][0], {"not": top["all"][0]}]}
        assert _ids(session, both) == {c.id for c in people[6:8]}
        # no prediction is no match; negating the rule takes the unscored contact in
        assert unscored.id not in _ids(session, likely) and unscored.id in _ids(session, {"not": likely})
        assert segments.count(session, likely) == 4


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "prediction", "kind": "lottery_win", "op": "gt", "value": 0.5}, "prediction kind must be one of"),
        ({"field": "prediction", "kind": "clv", "op": "top_percent", "value": 0}, "above 0 and at most 100"),
        ({"field": "prediction", "kind": "clv", "op": "gt", "value": "high"}, "must be a number"),
        ({"field": "prediction", "kind": "clv", "op": "near", "value": 1}, "operator must be one of"),
    ],
)
def test_bad_prediction_rules_say_what_is_wrong(runtime: Settings, condition: dict, message: str) -> None:
    with db.session_scope() as session, pytest.raises(ValidationFailed) as caught:
        segments.count(session, {"all": [condition]})
    assert caught.value.errors[0]["field"] == "$.all[0]" and message in caught.value.errors[0]["message"]


def test_an_unknown_kind_cannot_be_stored(runtime: Settings) -> None:
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        model = store.register_version(session, kind="lottery_win", version="v1")
        with pytest.raises(ValidationFailed, match="no prediction kind"):
            store.write_predictions(session, model, [Score(contact.id, 0.5)])


def test_the_contacts_left_out_for_want_of_a_prediction_are_counted(runtime_any_db: Settings) -> None:
    """A contact imported since the last scoring holds no prediction and silently fell out of "chance to buy > 0.6";
    :func:`segments.count_without` counts those who would match had they one on the right side, whatever the rules'
    shape: beside another condition, in an OR, under a NOT (holding none already passes there)."""
    with db.session_scope() as session:
        scored = [create_contact(session, n, tags=["vip"] if n == 1 else []) for n in range(1, 5)]
        for n in range(3):  # imported since the scoring: no prediction yet, the first a VIP
            create_contact(session, 10 + n, tags=["vip"] if n == 0 else [])
        buy = store.register_version(session, kind="purchase_90d", version="v1")
        store.write_predictions(session, buy, [Score(c.id, n / 4) for n, c in enumerate(scored, start=1)])
        likely = {"field": "prediction", "kind": "purchase_90d", "op": "gt", "value": 0.6}
        vip = {"field": "tag", "op": "has", "value": "vip"}
        assert segments.count(session, {"all": [likely]}) == 2
        assert segments.count_without(session, {"all": [likely]}, "purchase_90d") == 3  # the three new ones
        assert segments.count_without(session, {"all": [likely, vip]}, "purchase_90d") == 1  # the new VIP
        assert segments.count_without(session, {"any": [likely, vip]}, "purchase_90d") == 2  # the new VIP is in
        assert segments.count_without(session, {"not": {"all": [likely]}}, "purchase_90d") == 0  # all three are in
        assert segments.count_without(session, {"all": [likely]}, "churn_risk") == 0  # not a kind the rules read
