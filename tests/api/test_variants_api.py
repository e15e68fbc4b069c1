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


def test_offline_generation_is_labelled_checked_and_single_language(app_client: TestClient,
                                                                     marketer: dict[str, str]) -> None:
    response = app_client.post("/api/v1/variants", headers=marketer,
                               json={"brief": "Summer sale on linen shirts this weekend", "languages": ["en", "fr"],
                                     "n": 3, "offer": "20% off", "link": "https://acme.example/s"})
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["path"] == "offline" and data["fallback_reason"] == "no LLM configured"
    variants = data["variants"]
    assert [v["language"] for v in variants] == ["en"] * 3 + ["fr"] * 3
    assert len({v["text"] for v in variants}) == 6 and len({v["angle"] for v in variants[:3]}) == 3
    assert all(v["path"] == "offline" and 0 <= v["score"] <= 1 and v["status"] == "pending" for v in variants)
    for language in ("en", "fr"):
        scores = [v["score"] for v in variants if v["language"] == language]
        assert scores == sorted(scores, reverse=True)
    english, french = variants[:3], variants[3:]
    assert all("20% off linen shirts this weekend" in v["text"] or "20% off linen shirts" in v["text"]
               for v in english if v["angle"] != "question")
    for v in french:  # the English brief's words stay out of the French variants
        assert "linen" not in v["text"] and "Summer sale" not in v["text"] and "-20 %" in v["text"]
        assert "https://acme.example/s" in v["text"] and v["text"].startswith("Acme")
        failed = {r["rule"] for r in v["check"]["rules"] if not r["passed"]}
        assert v["check"]["language"] == "fr" and not failed & {"language", "mixed_language"}, v
    assert any("“linen shirts” reads as English" in note for note in data["notes"])
    rules = {r["rule"] for r in variants[0]["check"]["rules"]}
    assert {"banned_terms", "segments", "shaft", "all_caps", "url_shortener", "language", "mixed_language", "tone",
            "style"} <= rules
    translated = app_client.post(f"/api/v1/variants/{variants[0]['id']}/translate", headers=marketer,
                                 json={"languages": ["fr"]})
    assert translated.status_code == 422 and "offline path cannot translate" in translated.json()["detail"]
    single = app_client.post("/api/v1/variants", headers=marketer, json={"brief": "Neue Kollektion", "language": "de"})
    assert {v["language"] for v in single.json()["variants"]} == {"de"}
    unknown = app_client.post("/api/v1/variants", headers=marketer, json={"brief": "x" * 5, "languages": ["nl"]})
    assert unknown.status_code == 422


def test_llm_generation_and_translation(app_client: TestClient, marketer: dict[str, str], llm: FakeLlm) -> None:
    llm.answer = json.dumps({"variants": ["Acme: linen shirts are back, 20% off this weekend. Come and see.",
                                          "CHEAP VODKA!!! bit.ly/x"]})
    data = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "linen shirts sale", "language": "en", "n": 2, "tone": "premium",
                                 "offer": "20% off", "deadline": "Sunday"}).json()
    assert data["path"] == "llm" and data["fallback_reason"] == ""
    good, bad = data["variants"]
    assert good["path"] == "llm" and good["check"]["passed"] and good["score"] > 0.6
    assert not bad["check"]["passed"] and bad["score"] <= 0.49
    assert any("cheap" in r for r in bad["check"]["reasons"]) and any("SHAFT" in r for r in bad["check"]["reasons"])
    sent = llm.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "fake-model"
    assert "Never use: cheap" in sent["body"]["messages"][0]["content"]
    ask = sent["body"]["messages"][1]["content"]
    assert "linen shirts sale" in ask and "entirely in English" in ask and "premium tone" in ask
    assert "Offer: 20% off" in ask and "Deadline: Sunday" in ask
    assert "Brand voice: warm, short, playful" in sent["body"]["messages"][0]["content"]
    # the LLM's text goes through the same check: a French variant with an English sentence fails
    llm.answer = json.dumps({"variants": ["Acme : nos chemises en lin sont là. Summer sale on linen shirts!"]})
    mixed = app_client.post("/api/v1/variants", headers=marketer,
                            json={"brief": "linen shirts sale", "languages": ["fr"], "n": 1}).json()["variants"][0]
    assert mixed["path"] == "llm" and not mixed["check"]["passed"]
    assert any(r.startswith("Mixes languages") for r in mixed["check"]["reasons"])
    llm.answer = "Acme : les chemises en lin sont de retour, -20 % ce week-end. Venez voir."
    translated = app_client.post(f"/api/v1/variants/{good['id']}/translate", headers=marketer,
                                 json={"languages": ["fr"]})
    assert translated.status_code == 201, translated.text
    fr = translated.json()[0]
    assert (fr["path"], fr["language"], fr["parent_id"]) == ("translation", "fr", good["id"])
    assert fr["check"]["language"] == "fr"
    with db.session_scope() as session:  # the translation is audited as a new variant, naming its source
        entry = session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(fr["id"]))).one()
        assert (entry.action, entry.actor_type, entry.diff["translates"]) == ("variant.create", "api_key", good["id"])


def test_llm_variants_keep_to_gsm7_or_say_what_they_cost(app_client: TestClient, marketer: dict[str, str],
                                                        llm: FakeLlm) -> None:
    """An "À" the model wrote becomes "A" (a capital's accent, commonly dropped); a "fête" cannot lose its
    accent and is flagged with its cost; a translation's segments are said beside its source's."""
    model = "Acme : nos chemises en lin sont de retour, -20 % ce week-end. À très vite !"
    party = "Acme : la fête des chemises en lin continue, -20 % ce week-end. Passez nous voir !"
    llm.answer = json.dumps({"variants": [model, party]})
    data = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "linen shirts sale", "languages": ["fr"], "n": 2}).json()
    kept, flagged = sorted(data["variants"], key=lambda v: "fête" in v["text"])
    assert kept["text"] == model.replace("À", "A") and kept["path"] == "llm"
    assert kept["check"]["cost"]["segments"] == 1 and kept["check"]["cost"]["encoding"] == "GSM-7"
    assert kept["check"]["cost"]["original"] == {"label": "as the model wrote it", "segments": 2, "encoding": "UCS-2"}
    segments = next(r for r in kept["check"]["rules"] if r["rule"] == "segments")
    assert segments["detail"].endswith("GSM-7); as the model wrote it: 2 SMS segments (UCS-2).")
    assert flagged["text"] == party and flagged["check"]["cost"]["gsm7_segments"] == 1
    assert ("2 segments instead of 1: “ê” is outside GSM-7 (a segment then holds 70 characters instead of 160)."
            in flagged["check"]["reasons"])
    english = app_client.post("/api/v1/variants/check", headers=marketer,
                              json={"text": "Acme: linen shirts are back, 20% off this weekend. See you soon!",
                                    "language": "en"}).json()
    llm.answer = "Acme : c’est la fête des chemises en lin, -20 % ce week-end. À très vite !"
    fr = app_client.post(f"/api/v1/variants/{english['id']}/translate", headers=marketer,
                         json={"languages": ["fr"]}).json()[0]
    assert fr["text"] == llm.answer  # "fête" keeps it in UCS-2: nothing is replaced for nothing
    assert fr["check"]["cost"]["original"] == {"label": "the original", "segments": 1, "encoding": "GSM-7"}
    assert any(r.startswith("2 segments instead of 1: “’”, “ê”, “À” are outside GSM-7") for r in fr["check"]["reasons"])


@pytest.mark.parametrize(("status", "delay", "kind"), [(500, 0.0, "http"), (200, 1.5, "timeout")])
def test_llm_failure_falls_back_offline(app_client: TestClient, marketer: dict[str, str], llm: FakeLlm,
                                        status: int, delay: float, kind: str) -> None:
    llm.status, llm.delay, llm.answer = status, delay, '{"variants": ["never used"]}'
    data = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "new store opening", "languages": ["fr", "en"], "n": 2}).json()
    assert data["path"] == "offline" and kind in data["fallback_reason"]
    assert all(v["path"] == "offline" for v in data["variants"]) and len(data["variants"]) == 4
    # a 5xx is asked once more (agent.llm.POLICY), a timeout not; English did not wait for the failed LLM again
    assert len(llm.requests) == (2 if status == 500 else 1)


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
    assert not wrong["check"]["passed"]
    assert "Written in French, but this variant is for English." in wrong["check"]["reasons"]
    with db.session_scope() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"brand.update", "variant.approve", "template.create"} <= actions
    assert app_client.post("/api/v1/variants/check", headers=auth_headers("agent"),
                           json={"text": "x", "language": "en"}).status_code == 403


def test_edit_then_approve_makes_a_template_and_reject_keeps_the_reason(app_client: TestClient,
                                                                        marketer: dict[str, str]) -> None:
    made = app_client.post("/api/v1/variants", headers=marketer,
                           json={"brief": "Soldes d'hiver : -30 % sur les manteaux", "languages": ["fr"], "n": 2})
    first, second = made.json()["variants"]
    assert first["angle"] and first["template_id"] is None
    text = "Acme : -30 % sur les manteaux jusqu'à dimanche. À très vite !"
    edited = app_client.patch(f"/api/v1/variants/{first['id']}", headers=marketer, json={"text": text})
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == text and edited.json()["angle"] == first["angle"]
    assert edited.json()["check"]["language"] == "fr"
    bad_edit = app_client.patch(f"/api/v1/variants/{first['id']}", headers=marketer,
                                json={"text": "Acme: 30% off coats until Sunday."})
    assert not bad_edit.json()["check"]["passed"]  # an English text in a French variant
    app_client.patch(f"/api/v1/variants/{first['id']}", headers=marketer, json={"text": text})
    approved = app_client.post(f"/api/v1/variants/{first['id']}/approve", headers=marketer,
                               json={"template_name": "Soldes manteaux FR"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    template_id = approved.json()["template_id"]
    template = app_client.get(f"/api/v1/templates/{template_id}", headers=marketer).json()
    assert (template["name"], template["body"], template["language"], template["kind"]) == (
        "Soldes manteaux FR", text, "fr", "marketing")
    assert app_client.patch(f"/api/v1/variants/{first['id']}", headers=marketer,
                            json={"text": "late"}).status_code == 409
    rejected = app_client.post(f"/api/v1/variants/{second['id']}/reject", headers=marketer,
                               json={"note": "too pushy"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_note"] == "too pushy"
    pending = app_client.get("/api/v1/variants?status=pending", headers=marketer).json()
    assert first["id"] not in {v["id"] for v in pending} and second["id"] not in {v["id"] for v in pending}
    listed = app_client.get("/api/v1/variants", headers=marketer).json()
    assert {v["id"]: v["status"] for v in listed if v["id"] in (first["id"], second["id"])} == {
        first["id"]: "approved", second["id"]: "rejected"}
    with db.session_scope() as session:
        entries = [(e.action, e.target_id, e.diff) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("variant.%"), AuditEntry.action != "variant.create")
            .order_by(AuditEntry.id))]  # each variant's creation: tests/api/test_audit_coverage.py
    assert [(a, t) for a, t, _ in entries] == [("variant.edit", str(first["id"]))] * 3 + [
        ("variant.approve", str(first["id"])), ("variant.reject", str(second["id"]))]
    assert entries[0][2]["wording"] == [first["text"], text]
    assert entries[3][2]["template_id"] == template_id and entries[4][2]["note"] == "too pushy"


def test_what_the_offline_path_could_not_use_is_said(app_client: TestClient, marketer: dict[str, str]) -> None:
    # one segment: the Spanish variants are GSM-7 (160 characters), where two UCS-2 ones held this link
    assert app_client.put("/api/v1/brand", headers=marketer, json={**BRAND, "max_segments": 1}).status_code == 200
    data = app_client.post("/api/v1/variants", headers=marketer, json={
        "brief": "Rebajas de invierno", "languages": ["es"], "n": 3, "offer": "buy more, save more",
        "link": "https://acme.example/rebajas-de-invierno/abrigos-y-chaquetas-de-lana?utm_source=sms&utm_medium=texto"
    }).json()
    notes = data["notes"]
    assert any(n.startswith("The offer “buy more, save more” is not one") for n in notes)
    without = sum("https://acme.example" not in v["text"] for v in data["variants"])
    said = f"Spanish: {without} of 3 variants leave out the link to stay within 1 segment with the opt-out line."
    assert without and said in notes
    assert all(r["passed"] for v in data["variants"] for r in v["check"]["rules"] if r["rule"] == "segments")
