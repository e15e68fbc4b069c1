"""Stored predictions: one current row per contact and kind, with its model version (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contacts.merge import merge_contacts
from contacts.models import Prediction
from core import db
from core.errors import ValidationFailed
from core.settings import Settings
from intelligence import store
from intelligence.models import ModelVersion
from intelligence.store import Score
from tests.contacts.helpers import create_contact

T1 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def test_a_batch_replaces_the_kind_and_reads_come_with_their_version(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        a, b = create_contact(session, 1).id, create_contact(session, 2).id
        v1 = store.register_version(session, kind="purchase_90d", version="v1", metrics={"auc": 0.78},
                                    params={"trees": 200})
        assert store.register_version(session, kind="purchase_90d", version="v1").id == v1.id
        assert store.write_predictions(session, v1, [Score(a, 0.7), Score(b, 0.2)], computed_at=T1) == 2
        hours = store.register_version(session, kind="best_hour", version="v1")
        store.write_predictions(session, hours, [Score(a, 19, {"hour": 19, "day": 2})], computed_at=T1)
        v2 = store.register_version(session, kind="purchase_90d", version="v2")
        store.write_predictions(session, v2, [Score(a, 0.9)], computed_at=T2)  # b keeps its v1 score
        with pytest.raises(ValidationFailed):
            store.write_predictions(session, v2, [Score(a, 0.1), Score(a, 0.2)])
    with db.session_scope() as session:
        mine = store.current(session, a)
        assert {k: (p.value, p.version) for k, p in mine.items()} == {"purchase_90d": (0.9, "v2"),
                                                                      "best_hour": (19.0, "v1")}  # fmt: skip
        assert mine["best_hour"].detail == {"hour": 19, "day": 2} and mine["purchase_90d"].computed_at == T2
        assert store.current(session, b)["purchase_90d"].version == "v1"
        assert session.scalar(select(func.count()).select_from(Prediction)) == 3
        stored = session.scalar(select(ModelVersion).where(ModelVersion.version == "v1",
                                                           ModelVersion.kind == "purchase_90d"))
        assert stored is not None and stored.metrics == {"auc": 0.78} and stored.params == {"trees": 200}
        assert store.erase(session, a) == 2 and store.current(session, a) == {}


def test_merging_two_scored_contacts_keeps_the_newest(runtime_any_db: Settings) -> None:
    """No unique (contact, kind): a merge re-points the other's rows without a clash, reads take the newest."""
    with db.session_scope() as session:
        target, source = create_contact(session, 1), create_contact(session, 2)
        version = store.register_version(session, kind="churn_risk", version="v1")
        store.write_predictions(session, version, [Score(source.id, 0.8)], computed_at=T2)
        store.write_predictions(session, version, [Score(target.id, 0.3)], computed_at=T1)
        merge_contacts(session, target=target, source=source)
        assert store.current(session, target.id)["churn_risk"].value == 0.8
        store.write_predictions(session, version, [Score(target.id, 0.5)], computed_at=T2)
        assert session.scalar(select(func.count()).select_from(Prediction)) == 1
