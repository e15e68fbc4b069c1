"""POST/GET /api/v1/messages on the simulator channel, end to end through real workers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import auth_headers, run_jobs


def test_send_then_delivered_through_the_simulator(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    sent = app_client.post(
        "/api/v1/messages", json={"to": "+33612345678", "body": "Your order shipped"}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["status"] == "queued" and body["encoding"] == "GSM-7" and body["segments"] == 1
    run_jobs()  # send, then the simulator's delivery reports
    got = app_client.get(f"/api/v1/messages/{body['id']}", headers=headers).json()
    assert got["status"] == "delivered"
    assert got["provider_message_id"].startswith("sim-")
    received = app_client.get("/api/v1/simulator/messages", params={"phone": "+33612345678"}, headers=headers).json()
    assert [m["body"] for m in received] == ["Your order shipped"]
    listed = app_client.get("/api/v1/messages", params={"status": "delivered"}, headers=headers).json()
    assert [m["id"] for m in listed] == [body["id"]]


def test_invalid_number_is_422_naming_the_field(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/messages", json={"to": "+3361", "body": "hi"}, headers=auth_headers("agent"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors[0]["field"] == "to" and errors[0]["reason"] == "too_short"


def test_idempotency_key_returns_the_same_message_and_sends_once(app_client: TestClient) -> None:
    headers = {**auth_headers("marketer"), "Idempotency-Key": "order-42"}
    payload = {"to": "+33612345679", "body": "Code 1234", "lane": "transactional"}
    first = app_client.post("/api/v1/messages", json=payload, headers=headers)
    second = app_client.post("/api/v1/messages", json=payload, headers=headers)
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    run_jobs()
    third = app_client.post("/api/v1/messages", json=payload, headers=headers)
    assert third.json()["id"] == first.json()["id"]
    run_jobs()
    inbox = app_client.get("/api/v1/simulator/messages", params={"phone": "+33612345679"}, headers=headers)
    assert len(inbox.json()) == 1
    conflict = app_client.post("/api/v1/messages", json={**payload, "body": "other"}, headers=headers)
    assert conflict.status_code == 409


def test_preview_shows_encoding_and_smart_encoding_savings(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    text = "It\u2019s here \u2014 " + "x" * 60
    plain = app_client.post("/api/v1/messages/preview", json={"body": text}, headers=headers).json()
    assert plain["encoding"] == "UCS-2" and plain["segments"] == 2
    assert plain["smart_encoding_saves_segments"] == 1
    smart = app_client.post("/api/v1/messages/preview", json={"body": text, "smart_encoding": True}, headers=headers)
    assert smart.json()["encoding"] == "GSM-7" and smart.json()["segments"] == 1


def test_a_one_time_code_carries_its_expiry_and_a_past_one_is_refused(app_client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    headers = auth_headers("marketer")
    until = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    sent = app_client.post("/api/v1/messages", headers=headers,
                           json={"to": "+33612345678", "body": "Code 123456", "expires_at": until.isoformat()})
    assert sent.status_code == 202, sent.text
    assert datetime.fromisoformat(sent.json()["expires_at"]).replace(tzinfo=UTC) == until
    past = app_client.post("/api/v1/messages", headers=headers,
                           json={"to": "+33612345678", "body": "Code 654321",
                                 "expires_at": (until - timedelta(hours=1)).isoformat()})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expires_at"
