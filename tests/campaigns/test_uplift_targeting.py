"""Uplift targeting: disabled (and why) without a controlled campaign; with a seeded past adaptive
campaign whose message moved only recent buyers, the stored uplift ranks them first and the
segment rule keeps them; the learner is chosen on the deployment's own data (or the simplest, and
why); the daily job stores the scores with the model version, or nothing and why."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.console.forecast_words import uplift_fact
from campaigns import tasks, uplift_targeting
from campaigns.models import CampaignAllocation
from campaigns.scheduling import aware
from cli.main import app
from contacts import segments
from contacts.consent import record_opt_in
from contacts.models import Contact, Order, OrderLine, Prediction
from conversations.models import Message
from core import db
from core.db import utcnow
from core.models import AuditEntry
from core.settings import Settings
from intelligence.models import ModelVersion
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.helpers import auth_headers
from workers.scheduler import discover_periodic

CONTACTS = 600


def _order(session: Session, contact_id: int, at: object, n: int) -> None:
    order = Order(contact_id=contact_id, source="api", external_id=f"o{contact_id}-{n}", ordered_at=at,
                  total_micros=20_000_000)
    session.add(order)
    session.flush()
    session.add(OrderLine(order_id=order.id, product_id="p1", description="mug", quantity=2,
                          unit_price_micros=10_000_000))


def _controlled_campaign(session: Session) -> dict[str, set[int]]:
    """A past adaptive campaign: 40 % control; texted recent buyers bought far more often than the
    control's; lapsed buyers the same either way."""
    rng = np.random.default_rng(7)
    now = utcnow()
    sent_at = now - timedelta(days=20)
    groups: dict[str, set[int]] = {"recent": set(), "lapsed": set()}
    ids = []
    for n in range(CONTACTS):
        contact = create_contact(session, n, opted_in=False, timezone="UTC")
        recent = n % 2 == 0
        groups["recent" if recent else "lapsed"].add(contact.id)
        ids.append((contact.id, recent))
        for k in range(3 if recent else 1):
            _order(session, contact.id, sent_at - timedelta(days=(5 + 7 * k) if recent else 300 + k), k)
    campaign = create_campaign(session, create_template(session, body="Sale"), name="adaptive")
    campaign.status, campaign.completed_at = "completed", sent_at + timedelta(days=4)
    control = []
    for contact_id, recent in ids:
        treated = rng.random() >= 0.4
        if treated:
            session.add(Message(contact_id=contact_id, direction="out", body="Sale", status="delivered",
                                lane="marketing", author_type="campaign", campaign_id=campaign.id, segments=1,
                                created_at=sent_at))
        else:
            control.append(contact_id)
        if rng.random() < (0.55 if treated and recent else 0.1):
            _order(session, contact_id, sent_at + timedelta(days=1), 99)
    session.add(CampaignAllocation(campaign_id=campaign.id, run=campaign.run, batch=1, at=sent_at,
                                   arms=[], control_ids=control))
    session.flush()
    return groups


def test_disabled_without_a_controlled_campaign_and_says_why(runtime: Settings) -> None:
    with db.session_scope() as session:
        found = uplift_targeting.status(session)
        assert not found.enabled and "no past campaign kept a control group" in found.reason
        assert uplift_targeting.score(session, now=utcnow()).enabled is False
        assert uplift_targeting.planner(session, [1, 2])["targeted"] == 0


def test_a_controlled_campaign_enables_scoring_and_the_segment_rule(runtime: Settings) -> None:
    with db.session_scope() as session:
        groups = _controlled_campaign(session)
        verdict = uplift_targeting.score(session, now=utcnow())
        assert verdict.enabled, verdict.reason
        assert verdict.treated + verdict.control == CONTACTS and verdict.campaigns == 1
        rule = {"all": [{"field": "prediction", "kind": "uplift", "op": "top_percent", "value": 50}]}
        kept = set(session.scalars(segments.compile_segment(rule)))
        plan = uplift_targeting.planner(session, sorted(groups["recent"] | groups["lapsed"]))
        line = next(iter(uplift_fact(session, sorted(groups["recent"])).values()))
    assert line.startswith("would keep ") and f"of {len(groups['recent'])} recipients" in line
    assert len(kept & groups["recent"]) > 3 * len(kept & groups["lapsed"])  # the movable ones first
    assert 0 < plan["targeted"] <= CONTACTS and plan["expected_incremental_buyers"] > 0


def test_api_scores_audited_and_plans_a_campaign(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        draft_id = create_campaign(session, create_template(session, body="Hi"), name="draft").id
    refused = app_client.post("/api/v1/campaigns/uplift/score", headers=headers)
    assert refused.status_code == 200 and refused.json()["enabled"] is False
    with db.session_scope() as session:
        groups = _controlled_campaign(session)
        for contact in session.scalars(select(Contact).where(Contact.id.in_(sorted(groups["recent"])[:20]))):
            record_opt_in(session, contact=contact, source="form", proof="test sign-up form")
    scored = app_client.post("/api/v1/campaigns/uplift/score", headers=headers)
    assert scored.json()["enabled"] is True
    plan = app_client.get(f"/api/v1/campaigns/{draft_id}/uplift", headers=auth_headers("analyst")).json()
    assert plan["enabled"] is True and plan["audience"] == 20  # the opted-in recent buyers
    assert 10 <= plan["targeted"] <= 20 and plan["expected_incremental_buyers"] > 1
    assert app_client.post("/api/v1/campaigns/uplift/score", headers=auth_headers("analyst")).status_code == 403
    with db.session_scope() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action == "intelligence.uplift_score"))
        assert len(list(actions)) == 2


def test_cli_scores_or_says_why_not(runtime: Settings) -> None:
    refused = CliRunner().invoke(app, ["intelligence", "uplift"])
    assert refused.exit_code == 0 and "Nothing stored: no past campaign kept a control group" in refused.output
    with db.session_scope() as session:
        _controlled_campaign(session)
    scored = CliRunner().invoke(app, ["intelligence", "uplift"])
    assert scored.exit_code == 0 and "Uplift stored for every contact" in scored.output
    with db.session_scope() as session:
        stored = select(func.count()).select_from(Prediction).where(Prediction.kind == "uplift")
        assert session.scalar(stored) == CONTACTS


def _uplift_rows(session: Session) -> list[Prediction]:
    return list(session.scalars(select(Prediction).where(Prediction.kind == "uplift")))


def test_too_few_buyers_to_compare_learners_keeps_the_simplest_and_says_so(runtime: Settings) -> None:
    with db.session_scope() as session:
        _controlled_campaign(session)  # ~25 control buyers: enabled, but fewer than 50 to compare learners on
        verdict = uplift_targeting.score(session, now=utcnow())
        model = uplift_targeting.latest_model(session)
        assert verdict.enabled and verdict.learner == uplift_targeting.SIMPLEST
        assert model is not None and model.params["method"] == uplift_targeting.SIMPLEST
        assert "too little data to compare learners" in model.metrics["chosen_by"]
        assert model.metrics["validation_uplift_top30"] == "n/a" and "too little data" in verdict.reason


def test_the_learner_is_chosen_out_of_fold_on_the_deployments_campaigns(runtime: Settings) -> None:
    with db.session_scope() as session:
        _controlled_campaign(session)
        verdict = uplift_targeting.score(session, now=utcnow(), min_choice_buyers=10)
        model = uplift_targeting.latest_model(session)
        assert model is not None and verdict.enabled
        validation = model.metrics["validation_uplift_top30"]
        assert len(validation) == len(uplift_targeting.candidates(CONTACTS))  # every candidate measured
        assert all(isinstance(v, float) for v in validation.values())
        assert model.params["learner"] == verdict.learner and verdict.learner in validation
        assert model.metrics["chosen_by"].startswith("best of 5 learners out of fold")
        noise = model.metrics["validation_noise"]
        assert 0 < noise < 0.2
        if verdict.learner != uplift_targeting.SIMPLEST:  # a challenger must clearly beat the simplest
            assert validation[verdict.learner] - validation[uplift_targeting.SIMPLEST] > noise
        assert model.version.startswith(model.params["method"])
        assert len(_uplift_rows(session)) == CONTACTS


def test_the_daily_job_is_scheduled_beside_the_other_predictions() -> None:
    jobs = {p.func: p for p in discover_periodic()}
    assert jobs["campaigns.tasks.score_uplift"].every_seconds == jobs["intelligence.tasks.score_contacts"].every_seconds
    assert jobs["campaigns.tasks.score_uplift"].every_seconds == 24 * 3600


def test_the_daily_job_stores_no_uplift_without_a_holdout_and_says_why(runtime: Settings) -> None:
    with db.session_scope() as session:
        create_contact(session, 1)
    result = tasks.score_uplift("2026-11-20T03:00:00")
    assert result["enabled"] is False and "no past campaign kept a control group" in result["reason"]
    with db.session_scope() as session:
        assert _uplift_rows(session) == [] and uplift_targeting.latest_model(session) is None


def test_the_daily_job_rescores_every_contact_with_the_model_version(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        groups = _controlled_campaign(session)
    first_day = utcnow().replace(microsecond=0) + timedelta(days=1)
    day_one = tasks.score_uplift(first_day.replace(tzinfo=None).isoformat())  # no offset: UTC
    assert day_one["enabled"] is True and day_one["learner"] == uplift_targeting.SIMPLEST
    with db.session_scope() as session:
        rows = _uplift_rows(session)
        [version] = session.scalars(select(ModelVersion).where(ModelVersion.kind == "uplift"))
        assert len(rows) == CONTACTS and {r.model_version_id for r in rows} == {version.id}
        assert {aware(r.computed_at) for r in rows} == {first_day}
        recent = np.mean([r.value for r in rows if r.contact_id in groups["recent"]])
        lapsed = np.mean([r.value for r in rows if r.contact_id in groups["lapsed"]])
        assert recent > lapsed + 0.1  # the message moved the recent buyers only
    tasks.score_uplift((first_day + timedelta(days=1)).isoformat())  # the next day: a new version, rows replaced
    with db.session_scope() as session:
        versions = list(session.scalars(select(ModelVersion).where(ModelVersion.kind == "uplift")))
        rows = _uplift_rows(session)
        assert len(versions) == 2 and len(rows) == CONTACTS
        assert {r.model_version_id for r in rows} == {max(v.id for v in versions)}
