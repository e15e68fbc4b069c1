"""Predictions over HTTP: queue a scoring (202, a job to poll, audited), its result, a contact's predictions, roles."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from core import db
from core.models import AuditEntry
from intelligence import store
from intelligence.tasks import SCORE_JOB_ID
from tests.contacts.helpers import create_contact
from tests.helpers import auth_headers, run_jobs
from tests.intelligence.scoring_helpers import build_shop
from workers.scheduler import discover_periodic


def test_queue_a_scoring_then_read_which_path_it_took(app_client: TestClient) -> None:
    with db.session_scope() as session:
        build_shop(session, customers=12, without_orders=1)
    marketer = auth_headers("marketer")
    queued = app_client.post("/api/v1/intelligence/score", headers=marketer)
    assert queued.status_code == 202, queued.text
    assert queued.json()["job_id"] == SCORE_JOB_ID and queued.json()["status"] == "queued"
    assert queued.json()["links"]["self"] == "/api/v1/intelligence/score"
    with db.session_scope() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "intelligence.score")).one()
        assert entry.target_id == SCORE_JOB_ID
    run_jobs()
    state = app_client.get("/api/v1/intelligence/score", headers=auth_headers("analyst")).json()
    assert state["status"] == "finished" and state["versions"] == {}
    assert state["result"]["path"] == "too_little_history" and "12 customers" in state["result"]["reason"]
    assert app_client.post("/api/v1/intelligence/score", headers=auth_headers("agent")).status_code == 403


def test_a_contacts_predictions(app_client: TestClient) -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    with db.session_scope() as session:
        scored, fresh = create_contact(session, 1).id, create_contact(session, 2).id
        model = store.register_version(session, kind="purchase_90d", version="v1", metrics={"validation": "n/a"})
        store.write_predictions(session, model, [store.Score(scored, 0.72, {"percentile": 90.0})], computed_at=at)
    agent = auth_headers("agent")
    found = app_client.get(f"/api/v1/contacts/{scored}/predictions", headers=agent)
    assert found.status_code == 200, found.text
    [one] = found.json()
    assert (one["kind"], one["value"], one["version"], one["detail"]) == (
        "purchase_90d",
        0.72,
        "v1",
        {"percentile": 90.0},
    )
    assert one["label"] == "probability of buying in the next 90 days"
    assert app_client.get(f"/api/v1/contacts/{fresh}/predictions", headers=agent).json() == []
    assert app_client.get("/api/v1/contacts/999999/predictions", headers=agent).status_code == 404
    assert app_client.get(f"/api/v1/contacts/{scored}/predictions").status_code == 401
    state = app_client.get("/api/v1/intelligence/score", headers=agent).json()
    assert state["status"] == "none" and state["versions"]["purchase_90d"]["version"] == "v1"


def test_the_scheduler_scores_every_day() -> None:
    [job] = [p for p in discover_periodic() if p.name == "intelligence-score"]
    assert (job.every_seconds, job.func) == (24 * 3600, "intelligence.tasks.score_contacts")
