"""Segment rules compiled to SQL, on SQLite and PostgreSQL, and their validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from contacts import attributes, consent, segments, service
from core import db
from core.db import utcnow
from core.errors import ValidationFailed
from tests.contacts.helpers import create_contact


def _ids(session: Session, rules: dict) -> set[int]:
    return set(session.scalars(segments.validated(session, rules)))


def test_rules_over_every_field(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="plan", type="string", segmentable=True)
        attributes.define(session, name="spend", type="number", segmentable=True)
        attributes.define(session, name="vip", type="boolean", segmentable=True)
        attributes.define(session, name="birthday", type="date", segmentable=True)
        attributes.define(session, name="notes", type="string")  # encrypted only: not segmentable
        vips = service.create_list(session, name="VIPs")
        a = create_contact(
            session,
            1,
            language="fr",
            tags=["shoes", "paris"],
            attributes={"plan": "Gold", "spend": 120.5, "vip": True, "birthday": "1990-05-01"},
        )
        b = create_contact(
            session, 2, language="en", tags=["shoes"], attributes={"plan": "silver", "spend": 20}
        )
        c = service.create(session, phone="+4915112345678", language="de", attributes={"notes": "x"})
        d = create_contact(session, 4, language="fr", list_ids=[vips.id])
        consent.record_opt_in(session, contact=a, source="form")
        consent.record_opt_out(session, contact=b, source="keyword")
        service.record_engagement(session, contact_id=a.id, kind="clicked", ref="campaign:1")
        service.record_engagement(session, contact_id=b.id, kind="clicked", at=utcnow() - timedelta(days=40))
        service.record_engagement(session, contact_id=d.id, kind="purchased")

        assert _ids(session, {"all": [{"field": "tag", "op": "has", "value": "shoes"}]}) == {a.id, b.id}
        assert _ids(session, {"all": [{"field": "tag", "op": "not_has", "value": "shoes"}]}) == {c.id, d.id}
        assert _ids(session, {"all": [{"field": "language", "op": "eq", "value": "fr"}]}) == {a.id, d.id}
        assert _ids(session, {"all": [{"field": "country", "op": "in", "value": ["de"]}]}) == {c.id}
        assert _ids(session, {"all": [{"field": "consent", "op": "eq", "value": "opted_out"}]}) == {b.id}
        assert _ids(session, {"all": [{"field": "list", "op": "member", "value": vips.id}]}) == {d.id}
        spend = {"field": "attribute", "name": "spend", "op": "gte", "value": 100}
        assert _ids(session, {"all": [spend]}) == {a.id}
        assert _ids(
            session, {"all": [{"field": "attribute", "name": "plan", "op": "contains", "value": "gol"}]}
        ) == {a.id}
        assert _ids(session, {"all": [{"field": "attribute", "name": "vip", "op": "eq", "value": True}]}) == {
            a.id
        }
        born = {"field": "attribute", "name": "birthday", "op": "before", "value": "2000-01-01"}
        assert _ids(session, {"all": [born]}) == {a.id}
        assert _ids(session, {"all": [{"field": "attribute", "name": "spend", "op": "missing"}]}) == {
            c.id,
            d.id,
        }
        clicked = {"field": "engagement", "kind": "clicked", "op": "within_days", "value": 30}
        assert _ids(session, {"all": [clicked]}) == {a.id}
        assert _ids(session, {"all": [{**clicked, "value": 60}]}) == {a.id, b.id}
        nested = {
            "any": [
                {"all": [{"field": "language", "op": "eq", "value": "fr"}, {"not": clicked}]},
                {"field": "country", "op": "eq", "value": "DE"},
            ]
        }
        assert _ids(session, nested) == {c.id, d.id}
        assert segments.count(session, nested) == 2
        assert segments.count(session, {"all": []}) == 4
        d.erased = True
        session.flush()
        assert segments.count(session, {"all": []}) == 3  # erased contacts never match


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"all": [{"field": "shoe_size", "op": "eq", "value": "4"}]}, "$.all[0]"),
        ({"all": [{"field": "tag", "op": "like", "value": "x"}]}, "$.all[0]"),
        ({"all": [{"field": "attribute", "name": "notes", "op": "eq", "value": "x"}]}, "$.all[0]"),
        (
            {"any": [{"all": [{"field": "engagement", "kind": "opened", "op": "within_days", "value": 3}]}]},
            "$.any[0].all[0]",
        ),
        (
            {"all": [{"field": "engagement", "kind": "clicked", "op": "within_days", "value": "30"}]},
            "$.all[0]",
        ),
        ({"all": {"field": "tag"}}, "$.all"),
        ({"every": []}, "$"),
    ],
)
def test_bad_rules_name_the_json_path(runtime: object, rules: dict, path: str) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="notes", type="string")
        with pytest.raises(ValidationFailed) as caught:
            segments.count(session, rules)
        assert caught.value.errors[0]["field"] == path


def test_saved_segment_and_its_query(runtime: object) -> None:
    with db.session_scope() as session:
        a = create_contact(session, 1, tags=["vip"])
        create_contact(session, 2)
        saved = segments.create(
            session, name="VIP", rules={"all": [{"field": "tag", "op": "has", "value": "vip"}]}
        )
        assert list(session.scalars(segments.contact_ids(session, saved.id))) == [a.id]
        with pytest.raises(ValidationFailed):
            segments.update(session, saved, rules={"all": [{"field": "nope"}]})


def test_declaring_an_attribute_segmentable_indexes_values_already_held(runtime_any_db: object) -> None:
    with db.session_scope() as session:
        attributes.define(session, name="tier", type="number")
        for n, tier in ((1, 3), (2, 1)):
            create_contact(session, n, attributes={"tier": tier})
        attributes.undefine(session, name="tier")
        assert attributes.define(session, name="tier", type="number", segmentable=True)
        above_two = {"field": "attribute", "name": "tier", "op": "gt", "value": 2}
        assert segments.count(session, {"all": [above_two]}) == 1


def test_an_attribute_name_ending_in_a_newline_is_refused(runtime: object) -> None:
    with db.session_scope() as session, pytest.raises(ValidationFailed):
        attributes.define(session, name="tier\n", type="number")
