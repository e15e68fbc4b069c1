"""Variants: offline composition, the real openai client against a fake server, fallbacks, check, decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import db
from core.models import AuditEntry
from core.settings import get_settings
from tests.fake_llm import FakeLlm, fake_llm_server
from tests.helpers import auth_headers

BRAND = {"name": "Acme", "voice": "warm, short, playful", "banned_terms": ["cheap"], "required_terms": [],
         "examples": ["Acme: spring is here! New linen shirts just landed. Come and see.",
                      "Hi from Acme. Members get 10% off this weekend. See you soon!"],
         "emoji_policy": "some", "languages": ["en", "fr"], "max_segments": 2,
         "sentiment_min": -0.2, "sentiment_max": 1.0}


@pytest.fixture
def marketer(app_client: TestClient) -> dict[str, str]:
    headers = auth_headers("marketer")
    assert app_client.put("/api/v1/brand", headers=headers, json=BRAND).status_code == 200
    return headers


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLlm]:
    with fake_llm_server() as fake:
        monkeypatch.setenv("RELAIS_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("RELAIS_LLM_MODEL", "fake-model")
        monkeypatch.setenv("RELAIS_LLM_TIMEOUT_SECONDS", "0.5")
        get_settings.cache_clear()
        yield fake
    get_settings.cache_clear()


def test_offline_generation_is_labelled_and_checked(app_client: TestClient, marketer: dict[str, str]) -> None:
    response = app_client.post("/api/v1/variants", headers=marketer,
                               json={"brief": "Summer sale on linen shirts this weekend", "language": "en", "n": 3,
                                     "offer": "20% off"})
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["path"] == "offline" and data["fallback_reason"] == "no LLM configured"
    variants = data["variants"]
    assert len(variants) == 3 and len({v["text"] for v in variants}) == 3
    assert all(v["path"] == "offline" and 0 <= v["score"] <= 1 for v in variants)
    assert all("Summer sale on linen shirts this weekend: 20% off" in v["text"] for v in variants)
    assert [v["score"] for v in variants] == sorted((v["score"] for v in variants), reverse=True)
    rules = {r["rule"] for r in variants[0]["check"]["rules"]}
    assert {"banned_terms", "segments", "shaft", "all_caps", "url_shortener", "language", "tone", "style"} <= rules
    translated = app_client.post(f"/api/v1/variants/{variants[0]['id']}/translate", headers=marketer,
                                 json={"languages": ["fr"]})
    assert translated.status_code == 422 and "offline path cannot translate" in translated.json()["detail"]


def test_llm_generation_and_translation(app_client: TestClient, marketer: dict[str, str], llm: FakeLlm) -> None:
    llm.answer = json.dumps({"variants": ["Acme: linen shirts are back, 20% off this weekend. Come and see.",
                                          "CHEAP VODKA!!! bit.ly/x"]})
    data = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "linen shirts sale", "language": "en", "n": 2}).json()
    assert data["path"] == "llm" and data["fallback_reason"] == ""
    good, bad = data["variants"]
    assert good["path"] == "llm" and good["check"]["passed"] and good["score"] > 0.6
    assert not bad["check"]["passed"] and bad["score"] <= 0.49
    assert any("cheap" in r for r in bad["check"]["reasons"]) and any("SHAFT" in r for r in bad["check"]["reasons"])
    sent = llm.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "fake-model"
    assert "Never use: cheap" in sent["body"]["messages"][0]["content"]
    assert "linen shirts sale" in sent["body"]["messages"][1]["content"]
    llm.answer = "Acme : les chemises en lin sont de retour, -20 % ce week-end. Venez voir."
    translated = app_client.post(f"/api/v1/variants/{good['id']}/translate", headers=marketer,
                                 json={"languages": ["fr"]})
    assert translated.status_code == 201, translated.text
    fr = translated.json()[0]
    assert (fr["path"], fr["language"], fr["parent_id"]) == ("translation", "fr", good["id"])
    assert fr["check"]["language"] == "fr"


@pytest.mark.parametrize(("status", "delay", "kind"), [(500, 0.0, "http"), (200, 1.5, "timeout")])
def test_llm_failure_falls_back_offline(app_client: TestClient, marketer: dict[str, str], llm: FakeLlm,
                                        status: int, delay: float, kind: str) -> None:
    llm.status, llm.delay, llm.answer = status, delay, '{"variants": ["never used"]}'
    data = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "new store opening", "language": "fr", "n": 2}).json()
    assert data["path"] == "offline" and kind in data["fallback_reason"]
    assert all(v["path"] == "offline" for v in data["variants"])


def test_human_text_check_and_decisions_are_audited(app_client: TestClient, marketer: dict[str, str]) -> None:
    checked = app_client.post("/api/v1/variants/check", headers=marketer,
                              json={"text": "Acme: members get 10% off this weekend. See you soon!", "language": "en"})
    assert checked.status_code == 201
    variant = checked.json()
    assert variant["path"] == "human" and variant["check"]["passed"]
    approved = app_client.post(f"/api/v1/variants/{variant['id']}/approve", headers=marketer, json={"note": "ok"})
    assert approved.json()["status"] == "approved"
    assert app_client.post(f"/api/v1/variants/{variant['id']}/reject", headers=marketer, json={}).status_code == 409
    wrong = app_client.post("/api/v1/variants/check", headers=marketer,
                            json={"text": "Bonjour, les soldes commencent demain chez nous.", "language": "en"}).json()
    assert not wrong["check"]["passed"] and any("written in fr" in r for r in wrong["check"]["reasons"])
    with db.session_scope() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"brand.update", "variant.approve"} <= actions
    assert app_client.post("/api/v1/variants/check", headers=auth_headers("agent"),
                           json={"text": "x", "language": "en"}).status_code == 403
