"""``POST /api/v1/agent/analyze`` and the intents API over the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agent.models import IntentTrainingJob
from agent.runtime import get_runtime, intent_store, reset_runtime
from core import db
from core.models import AuditEntry
from core.settings import Settings
from tests.helpers import auth_headers, run_jobs

FAQ = """question,answer,language,tags
How much does shipping cost?,"Standard shipping is 4.90 EUR, free from 60 EUR.",en,shipping
Combien coûte la livraison ?,"La livraison standard coûte 4,90 EUR, offerte dès 60 EUR.",fr,shipping
Do you sell gift cards?,"Yes, e-gift cards from 20 to 300 EUR.",en,payment
Vendez-vous des cartes cadeaux ?,"Oui, des e-cartes cadeaux de 20 à 300 EUR.",fr,payment
"""


@pytest.fixture
def client(app_client: TestClient, runtime: Settings, tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "faq.csv").write_text(FAQ, encoding="utf-8")
    get_runtime(runtime).knowledge.ingest_path(tmp_path / "faq.csv", kb="default")
    yield app_client
    reset_runtime()


def test_analyze_shows_every_stage(client: TestClient) -> None:
    response = client.post("/api/v1/agent/analyze", headers=auth_headers("agent"),
                           json={"text": "Combien coûte la livraison ?"})
    assert response.status_code == 200, response.text
    body = response.json()
    decision = body["decision"]
    assert (decision["action"], decision["reason_code"], decision["path"]) == (
        "reply", "answered_from_knowledge", "offline")
    assert "4,90 EUR" in decision["reply"] and decision["sources"][0]["document_id"] == "faq.csv"
    assert body["language"]["code"] == "fr" and -1 <= body["sentiment"]["score"] <= 1
    assert body["intent"] is None  # no intent model trained in this deployment yet
    assert body["passages"][0]["language"] == "fr" and body["passages"][0]["score"] >= 0.35
    [question] = body["questions"]
    assert question["text"] == "Combien coûte la livraison ?" and question["best_score"] >= 0.35
    assert set(body["timings_ms"]) >= {"keywords", "language", "embed", "sentiment", "intent", "retrieval",
                                       "policy", "responder", "total"}


def test_analyze_keywords_history_and_prior(client: TestClient) -> None:
    headers = auth_headers("analyst")
    stop = client.post("/api/v1/agent/analyze", headers=headers, json={"text": "ARRET"}).json()
    assert stop["decision"]["action"] == "opt_out" and stop["decision"]["language"] == "fr"
    start = client.post("/api/v1/agent/analyze", headers=headers,
                        json={"text": "oui", "opted_out": True, "language": "fr"}).json()
    assert start["decision"]["action"] == "opt_in"
    history = [{"role": "customer", "text": "how much is shipping?"}, {"role": "bot", "text": "4.90 EUR"},
               {"role": "customer", "text": "how much does shipping cost?"}, {"role": "bot", "text": "4.90 EUR"}]
    repeated = client.post("/api/v1/agent/analyze", headers=headers,
                           json={"text": "how much is the shipping", "history": history}).json()
    assert repeated["decision"]["reason_code"] == "repeated_failure" and repeated["repeats"] == 2


def test_analyze_is_for_agents_and_analysts(client: TestClient) -> None:
    assert client.post("/api/v1/agent/analyze", json={"text": "hi"}).status_code == 401
    marketer = auth_headers("marketer")
    assert client.post("/api/v1/agent/analyze", headers=marketer, json={"text": "hi"}).status_code == 403
    assert client.post("/api/v1/agent/analyze", headers=auth_headers("admin"), json={"text": "hi"}).status_code == 200
    too_long = client.post("/api/v1/agent/analyze", headers=auth_headers("agent"), json={"text": "x" * 2000})
    assert too_long.status_code == 422


def test_intents_are_trained_listed_activated_and_rolled_back(client: TestClient, runtime: Settings) -> None:
    admin = auth_headers("admin")
    assert client.get("/api/v1/intents", headers=auth_headers("analyst")).json() == []
    spec = {"intents": [
        {"name": "shipping_cost", "examples": {"en": ["how much is shipping", "delivery fees", "shipping price"],
                                               "fr": ["combien coûte la livraison", "frais de port"]}},
        {"name": "gift_card", "examples": ["do you sell gift cards", "carte cadeau", "gift voucher"],
         "escalate": True},
    ]}
    queued = client.post("/api/v1/intents", headers={**admin, "Content-Type": "application/yaml"},
                         content=yaml.safe_dump(spec, allow_unicode=True))
    assert queued.status_code == 202, queued.text  # training is a job for a worker, not the request
    job = queued.json()
    assert (job["status"], job["stage"], job["progress"], job["version"]) == ("pending", "queued", 0.0, None)
    assert client.get("/api/v1/intents", headers=auth_headers("analyst")).json() == []
    run_jobs()
    done = client.get(job["links"]["self"], headers=auth_headers("analyst")).json()
    assert (done["status"], done["stage"], done["progress"], done["error"]) == ("succeeded", "done", 1.0, "")
    [first] = client.get("/api/v1/intents", headers=auth_headers("analyst")).json()
    assert first["version"] == done["version"] and first["active"] and "shipping_cost" in first["intents"]
    assert "opt_out" in first["intents"]  # merged with the built-in intents
    analysis = client.post("/api/v1/agent/analyze", headers=admin, json={"text": "Do you sell gift cards?"}).json()
    assert analysis["intent"]["name"] == "gift_card" and analysis["decision"]["reason_code"] == "intent_escalates"

    # a second stored version (saved directly: training again would only repeat the above)
    store = intent_store(runtime)
    second = {"version": store.save(store.load(), activate=True)}
    assert second["version"] != first["version"]
    back = client.post("/api/v1/intents/rollback", headers=admin)
    assert back.status_code == 200 and back.json()["version"] == first["version"]
    activated = client.post(f"/api/v1/intents/{second['version']}/activate", headers=admin)
    assert activated.status_code == 200 and activated.json()["active"]
    listed = client.get("/api/v1/intents", headers=auth_headers("agent")).json()
    assert [v["active"] for v in listed] == [False, True]

    bad = client.post("/api/v1/intents", headers=admin, content="intents: [{name: Bad Name, examples: [a]}]")
    assert bad.status_code == 422 and "intent #1" in bad.json()["detail"]  # checked before anything is queued
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(IntentTrainingJob)) == 1
        assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "intents.train"))] == [
            "intents.train"]
    assert client.get("/api/v1/intents/jobs/999", headers=admin).status_code == 404
    assert client.post("/api/v1/intents", headers=auth_headers("agent"), content="intents: []").status_code == 403
    assert client.post("/api/v1/intents/nope/activate", headers=admin).status_code == 404


def test_the_business_profile_is_set_through_the_api_and_read_by_the_agent(client: TestClient,
                                                                           runtime: Settings) -> None:
    admin = auth_headers("admin")
    empty = client.get("/api/v1/agent/profile", headers=auth_headers("agent")).json()
    assert empty["document"] == "" and empty["always_open"]
    profile = {"brand": {"name": "Maison Lumière"},
               "hours": {"timezone": "Europe/Paris", "weekly": {"mon": "09:00-18:00"}}}
    saved = client.put("/api/v1/agent/profile", headers={**admin, "Content-Type": "application/yaml"},
                       content=yaml.safe_dump(profile, allow_unicode=True))
    assert saved.status_code == 200, saved.text
    assert (saved.json()["business"], saved.json()["timezone"], saved.json()["always_open"]) == (
        "Maison Lumière", "Europe/Paris", False)
    agent = get_runtime(runtime)
    agent.pipeline()
    assert agent.profile.brand.business == "Maison Lumière" and agent.profile.hours.timezone == "Europe/Paris"

    bad = client.put("/api/v1/agent/profile", headers=admin, content="hours: {timezone: Mars/Olympus}")
    assert bad.status_code == 422 and "timezone" in bad.json()["detail"]
    assert client.get("/api/v1/agent/profile", headers=admin).json()["business"] == "Maison Lumière"  # unchanged
    assert client.put("/api/v1/agent/profile", headers=auth_headers("agent"), content="{}").status_code == 403
    with db.session_scope() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.profile.update"))
        assert entry.target_type == "profile"
