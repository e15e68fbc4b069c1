"""The chance to respond, learnt from the deployment's own campaign texts: outcome, no look-ahead, ranking,
too little data, the daily job (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from api.console import predictions_card
from campaigns import prediction_rules
from campaigns.reporting import ATTRIBUTION_DAYS
from campaigns.templates import Compiled, TemplateSpec, contact_context, validate
from contacts.models import ConsentEvent, EngagementEvent, Order, Prediction
from conversations.models import Message
from core import db
from core.settings import Settings
from intelligence import response_learners, response_scoring, store, tasks
from intelligence.models import ModelVersion
from intelligence.personalise import template_values
from intelligence.response_features import RESPONSE_DAYS, FeatureBuilder, outcomes, training_rows
from intelligence.response_history import read, seconds
from tests.contacts.helpers import create_contact
from tests.intelligence.response_helpers import NOW, build_history, campaign_text, click, reply

RULE = {"field": "prediction", "kind": "response", "op": "gt", "value": 0.5}


def _at(moment: object) -> int:
    import pandas as pd

    return int(seconds(pd.Series([moment]))[0])


def test_the_response_window_is_the_campaign_reports_attribution_window() -> None:
    assert RESPONSE_DAYS == ATTRIBUTION_DAYS


def test_a_response_is_a_click_of_that_campaign_a_reply_or_a_kept_order_and_never_an_opt_out(
    runtime_any_db: Settings,
) -> None:
    sent = NOW - timedelta(days=10)
    with db.session_scope() as session:
        people = {name: create_contact(session, 200 + n).id for n, name in enumerate(
            ("clicked", "other_link", "replied", "stopped", "ordered", "cancelled", "late"))}  # fmt: skip
        for contact_id in people.values():
            campaign_text(session, contact_id, 7, sent)
        click(session, people["clicked"], 7, sent + timedelta(hours=2))
        click(session, people["other_link"], 8, sent + timedelta(hours=2))  # another campaign's link
        reply(session, people["replied"], sent + timedelta(days=2))
        reply(session, people["stopped"], sent + timedelta(hours=1), body="STOP")
        session.add(ConsentEvent(contact_id=people["stopped"], action="opt_out", source="keyword",
                                 at=sent + timedelta(hours=1)))  # fmt: skip
        for name, gone in (("ordered", None), ("cancelled", sent + timedelta(days=5))):
            session.add(
                Order(
                    contact_id=people[name],
                    source="api",
                    external_id=name,
                    status="paid",
                    ordered_at=sent + timedelta(days=1),
                    total_micros=30_000_000,
                    cancelled_at=gone,
                )
            )
        click(session, people["late"], 7, sent + timedelta(days=RESPONSE_DAYS, minutes=1))
        session.flush()
        history = read(session, until=NOW)
    ids = np.array(list(people.values()))
    answered = outcomes(history, ids, np.full(len(ids), _at(sent)), np.full(len(ids), 7))
    got = dict(zip(people, ~np.isnan(answered), strict=True))
    assert got == {
        "clicked": True,
        "other_link": False,
        "replied": True,
        "stopped": False,
        "ordered": True,
        "cancelled": False,
        "late": False,
    }


def test_no_feature_reads_anything_after_its_moment(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        made = build_history(session)
        cut = (NOW - timedelta(days=21)).replace(hour=18, minute=0)  # the fourth campaign's moment
        # what happens from then on: must change no feature computed at or before it
        for contact_id in made["silent"][:10] + made["none"]:
            click(session, contact_id, 4, cut + timedelta(seconds=1))
            reply(session, contact_id, cut)
            session.add(Order(contact_id=contact_id, source="api", external_id=f"late-{contact_id}", status="paid",
                              ordered_at=cut, total_micros=90_000_000))  # fmt: skip
        session.flush()
        everything, before = read(session, until=NOW), read(session, until=cut)
    full, truncated = FeatureBuilder(everything), FeatureBuilder(before)
    ids = np.array([c for group in made.values() for c in group])
    moment = np.full(len(ids), _at(cut))
    hour, weekday = np.full(len(ids), 18), np.full(len(ids), 3)
    assert full.features(ids, moment, hour, weekday).equals(truncated.features(ids, moment, hour, weekday))
    # every training row known before the cut reads the same with or without what came after
    old = training_rows(before, truncated).drop(columns="responded")
    new = training_rows(everything, full).drop(columns="responded")
    assert len(old) == 360 and new.iloc[: len(old)].reset_index(drop=True).equals(old)
    # a text's own moment is not before itself: the first campaign's rows count no earlier text
    assert (new.loc[new["campaign"] == 1, "texts"] == 0).all()
    assert (new.loc[new["campaign"] == 3, "texts"] == 2).all()


def test_a_group_that_always_clicks_ranks_above_one_that_never_does(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        made = build_history(session)
        result = response_scoring.score(session, now=NOW)
        assert result.scored, result.reason
        assert result.evidence == {"texts": 720, "responses": 360, "campaigns": 6}
        assert result.written == 123 and set(result.validation) == {"history_rate", "logistic", "lightgbm"}
        chance = {group: [store.current(session, c)["response"] for c in ids] for group, ids in made.items()}
        model = session.scalar(select(ModelVersion).where(ModelVersion.kind == "response"))
        values = template_values(session, made["eager"][:1])
        cards = [predictions_card.build(session, made[group][0], [], today=NOW.date()) for group in ("eager", "none")]
        assert prediction_rules.unheld(session, RULE) == {}
    assert min(p.value for p in chance["eager"]) > max(p.value for p in chance["silent"])
    assert all(p.detail["percentile"] > 60 for p in chance["eager"])
    assert all(p.detail["texts"] == 6 for p in chance["eager"]) and chance["none"][0].detail["texts"] == 0
    assert model is not None and model.version == result.version == "20260601"
    assert model.params["learner"] == result.learner and model.metrics["validation_auc"] == result.validation
    assert model.metrics["split"]["choose_campaigns"] == 2 and model.metrics["split"]["learn_texts"] == 480
    # the contact page says it in words
    assert ("Chance to respond to the next campaign text", "over 99 % (after 6 campaign texts)") in cards[0].facts
    assert any(fact.endswith("(no campaign text yet)") for _, fact in cards[1].facts)
    # a template reads it as it reads the other chances
    body = '{{ prediction.response | default("") }}'
    validate(body, TemplateSpec())
    context = contact_context(
        first_name=None,
        name=None,
        language="fr",
        country=None,
        timezone=None,
        attributes=None,
        business_name="Maison",
        prediction=values[made["eager"][0]].prediction,
    )
    shown = Compiled(body, "fr").render(context)
    assert shown.endswith(" %") and int(shown.removeprefix("over ").removesuffix(" %")) >= 90, shown


def test_a_large_history_is_learnt_from_a_seeded_sample(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_learners, "MAX_ROWS", 150)
    with db.session_scope() as session:
        made = build_history(session)
        result = response_scoring.score(session, now=NOW)
        model = session.scalar(select(ModelVersion).where(ModelVersion.kind == "response"))
        eager, silent = (store.current(session, made[group][0])["response"].value for group in ("eager", "silent"))
    assert result.scored and model is not None and eager > silent
    assert model.metrics["split"]["learn_texts"] == 150 and model.metrics["split"]["choose_texts"] == 150


def test_too_little_campaign_history_stores_nothing_and_says_why(
    runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:
        build_history(session, campaigns=2, per_group=20)
        result = response_scoring.score(session, now=NOW)
        assert not result.scored and result.evidence["texts"] == 120
        assert "120 campaign texts" in result.reason and "300" in result.reason
        assert session.scalar(select(func.count()).select_from(Prediction)) == 0
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 0
        why = prediction_rules.unheld(session, RULE)["response"]
        assert "past campaign texts" in why and "120 campaign texts" in why
    with db.session_scope() as session:  # enough texts, nobody responded
        build_history(session, first_contact=500)
        session.execute(delete(EngagementEvent))
        session.execute(delete(Message).where(Message.direction == "in"))
        result = response_scoring.score(session, now=NOW)
        assert not result.scored and "0 of 840 campaign texts were responded to" in result.reason
        assert "0 of 840" in prediction_rules.why_none(session, "response")
        assert session.scalar(select(func.count()).select_from(Prediction)) == 0
        # a large history is not read at each question of the segment builder: the run says why
        monkeypatch.setattr(response_scoring, "WHY_READS_AT_MOST", 500)
        why = prediction_rules.why_none(session, "response")
        assert (
            why.startswith("840 campaign texts to learn from, but no run has stored") and "relais intelligence" in why
        )


def test_the_daily_job_stores_one_versioned_model_a_day_and_replaces_its_rows(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        build_history(session)
    first = tasks.score_contacts(NOW.isoformat())
    again = tasks.score_contacts((NOW + timedelta(hours=3)).isoformat())
    # no orders: the purchase models store nothing, the response model does
    assert first["path"] == "too_little_history"
    assert first["response"]["scored"] and again["response"]["version"] == first["response"]["version"]
    with db.session_scope() as session:
        versions = session.scalars(select(ModelVersion).where(ModelVersion.kind == "response")).all()
        rows = session.scalar(select(func.count()).select_from(Prediction).where(Prediction.kind == "response"))
        assert len(versions) == 1 and rows == 123
        assert versions[0].trained_at == NOW + timedelta(hours=3)
    nextday = tasks.score_contacts((NOW + timedelta(days=1)).isoformat())
    with db.session_scope() as session:
        versions = session.scalars(select(ModelVersion.version).where(ModelVersion.kind == "response")).all()
        rows = session.scalar(select(func.count()).select_from(Prediction).where(Prediction.kind == "response"))
    assert nextday["response"]["scored"] and sorted(versions) == ["20260601", "20260602"] and rows == 123
