"""Production defaults: operator pages signed-in, readiness without exception text, security
headers on every response, request ids that cannot break a write, no phone numbers in access logs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from api import middleware
from api.app import create_app
from core.logging import configure_logging, mask_phones
from core.settings import Settings
from tests.helpers import auth_headers


@pytest.fixture
def production(runtime: Settings) -> Iterator[TestClient]:
    settings = runtime.model_copy(update={"env": "production", "channel": "vonage"})
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/metrics"])
def test_operator_pages_need_credentials_in_production(production: TestClient, path: str) -> None:
    assert production.get(path).status_code == 401
    assert production.get(path, headers=auth_headers("admin")).status_code == 200


def test_metrics_take_an_analyst_key_and_docs_any_role(production: TestClient) -> None:
    assert production.get("/metrics", headers=auth_headers("analyst")).status_code == 200
    assert production.get("/metrics", headers=auth_headers("marketer")).status_code == 403
    spec = production.get("/openapi.json", headers=auth_headers("marketer"))
    assert spec.status_code == 200 and "/api/v1/audit" in spec.json()["paths"]


def test_settings_open_the_operator_pages_on_purpose(runtime: Settings) -> None:
    settings = runtime.model_copy(
        update={"env": "production", "channel": "vonage", "public_docs": True, "public_metrics": True}
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/openapi.json").status_code == 200 and client.get("/metrics").status_code == 200


def test_readiness_names_the_failing_store_without_its_error(runtime: Settings) -> None:
    broken = runtime.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "error"
    assert "Connection" not in response.text and "127.0.0.1" not in response.text


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nowhere", "/console/login", "/docs"])
def test_security_headers_on_every_response(app_client: TestClient, path: str) -> None:
    headers = app_client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
    if path == "/console/login":
        assert "script-src 'self';" in csp  # the console runs no inline script


def test_a_long_or_odd_request_id_is_replaced_never_an_error(runtime_any_db: Settings) -> None:
    with TestClient(create_app(runtime_any_db)) as client:
        for sent in ("r" * 300, "abcé<script>", "ok id"):
            response = client.post(  # an audited write: the request id lands in a 64-character column
                "/api/v1/suppressions",
                json={"phone": "+33612345678", "reason": "manual"},
                headers=[(k.encode(), v.encode()) for k, v in auth_headers("admin").items()]
                + [(b"X-Request-ID", sent.encode())],
            )
            assert response.status_code in (201, 409), response.text
            echoed = response.headers["x-request-id"]
            assert echoed != sent and len(echoed) == 32
        kept = client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
        assert kept.headers["x-request-id"] == "trace-42.a:b"


def test_access_log_masks_phone_numbers(
    app_client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging(json=True, level="INFO")
    monkeypatch.setattr(middleware, "log", structlog.get_logger("relais.access"))  # a logger built now
    admin = auth_headers("admin")
    app_client.post("/api/v1/suppressions", json={"phone": "+33612345678", "reason": "manual"}, headers=admin)
    capsys.readouterr()
    app_client.delete("/api/v1/suppressions/+33612345678", headers=admin)
    app_client.delete("/api/v1/suppressions/%2B33687654321", headers=admin)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    paths = [line["path"] for line in lines if line.get("event") == "request"]
    assert paths == ["/api/v1/suppressions/+33*******78", "/api/v1/suppressions/+33*******21"]
    app_client.delete("/api/v1/suppressions/06 12 34 56 78", headers=admin)  # typed as people write it: in clear before
    app_client.delete("/api/v1/suppressions/%2B33%206.12.34.56.78", headers=admin)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    paths = [line["path"] for line in lines if line.get("event") == "request"]
    assert paths == ["/api/v1/suppressions/06 ** ** ** 78", "/api/v1/suppressions/+33 *.**.**.**.78"]


@pytest.mark.parametrize("kept", ["client 192.168.10.100", "at 2026-12-01 18:30:12", "1 234 567.89 EUR", "v 0.12.3.4",
                                  "order 0123 4567", "06 12"])
def test_what_only_looks_like_a_grouped_number_is_logged_as_it_is(kept: str) -> None:
    assert mask_phones(kept) == kept
