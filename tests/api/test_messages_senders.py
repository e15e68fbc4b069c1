"""Senders and provider-account rates (admin only)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import auth_headers


def test_admin_manages_senders_and_rates(app_client: TestClient) -> None:
    admin = auth_headers("admin")
    created = app_client.post(
        "/api/v1/senders",
        json={"kind": "short_code", "address": "12345", "country": "fr", "throughput": 30, "capabilities": ["sms"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["country"] == "FR"
    duplicate = app_client.post("/api/v1/senders", json={"kind": "short_code", "address": "12345"}, headers=admin)
    assert duplicate.status_code == 409
    bad = app_client.post("/api/v1/senders", json={"kind": "long_code", "address": "+3361"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "address"
    patched = app_client.patch(f"/api/v1/senders/{created.json()['id']}", json={"status": "disabled"}, headers=admin)
    assert patched.json()["status"] == "disabled"
    assert app_client.get("/api/v1/senders", params={"status": "active"}, headers=admin).json() == []
    rate = app_client.put("/api/v1/provider-accounts/default", json={"throughput": 25}, headers=admin)
    assert rate.json() == {"name": "default", "throughput": 25.0}
    assert app_client.get("/api/v1/senders", headers=auth_headers("marketer")).status_code == 403
