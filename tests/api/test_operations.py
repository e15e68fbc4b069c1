"""Health, readiness, metrics, request ids and problem+json errors."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from tests.helpers import auth_headers


def test_health_and_metrics(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    app_client.get("/healthz")
    metrics = app_client.get("/metrics")
    assert metrics.status_code == 200 and "relais_http_requests_total" in metrics.text


def test_readiness_checks_each_store(app_client: TestClient) -> None:
    body = app_client.get("/readyz").json()
    assert set(body["checks"]) == {"database", "redis", "vector_store"}
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"


def test_request_id_is_echoed_and_errors_are_problem_json(app_client: TestClient) -> None:
    response = app_client.get("/api/v1/nowhere", headers={"X-Request-ID": "abc123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "abc123"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == "abc123"


def test_openapi_is_served(app_client: TestClient) -> None:
    spec = app_client.get("/openapi.json").json()
    assert "/api/v1/audit" in spec["paths"]
    assert app_client.get("/docs").status_code == 200


def test_every_datetime_the_api_returns_has_a_timezone(app_client: TestClient) -> None:
    """The schema says date-time (RFC 3339: an offset is required); SQLite used to lose it."""
    created = app_client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.invalid/h", "event_types": ["*"]},
        headers=auth_headers("admin"),
    )
    assert created.status_code == 201
    stamps = [created.json()["created_at"]]
    stamps += [e["at"] for e in app_client.get("/api/v1/audit", headers=auth_headers("admin")).json()["items"]]
    assert stamps and all(datetime.fromisoformat(s).tzinfo is not None for s in stamps), stamps
