"""Predictions over HTTP: queue a scoring (202, a job to poll, audited), its result, a contact's predictions, roles."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from conversations.models import Conversation
from core import db
from core.models import AuditEntry
from intelligence import store
from intelligence.tasks import SCORE_JOB_ID
from tests.contacts.helpers import create_contact
from tests.helpers import auth_headers, run_jobs
from tests.intelligence.scoring_helpers import build_shop, six_scored_contacts
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
        session.add_all([Conversation(contact_id=scored, sender="RELAIS"),  # agents read the contacts they answer
                         Conversation(contact_id=fresh, sender="RELAIS")])
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


def test_analysts_read_predictions_summarised_not_per_contact(app_client: TestClient) -> None:
    """An analyst measures the models, not the people: a contact's predictions answer 403, the summary
    gives each kind's count, mean, percentiles and bands; a kind only 2 contacts hold gives its count only."""
    at = datetime(2026, 6, 1, tzinfo=UTC)
    ids = six_scored_contacts(top_chance=0.9, purchase_version="v1", spend_version="v1", at=at)
    analyst = auth_headers("analyst")
    assert app_client.get(f"/api/v1/contacts/{ids[0]}/predictions", headers=analyst).status_code == 403
    found = app_client.get("/api/v1/intelligence/summary", headers=analyst)
    assert found.status_code == 200, found.text
    kinds = {k["kind"]: k for k in found.json()}
    chance = kinds["purchase_90d"]
    assert chance["contacts"] == 6 and round(chance["mean"], 4) == 0.4583 and round(chance["median"], 4) == 0.45
    assert chance["bands"] == {"under 20 %": 2, "20 to 50 %": 1, "50 to 80 %": 2, "80 % or more": 1}
    assert chance["versions"] == ["v1"] and chance["computed_to"].startswith("2026-06-01")
    withheld = kinds["expected_spend"]
    assert withheld["contacts"] == 2 and (withheld["mean"], withheld["median"], withheld["bands"]) == (None, None, {})
    assert kinds["clv"]["contacts"] == 0
    assert app_client.get("/api/v1/intelligence/summary").status_code == 401
