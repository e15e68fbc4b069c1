"""Signed status webhooks are answered before the framework's routing; anything else goes through the route.

A campaign posts one delivery report per message: the middleware, routing, dependency and exception
layers cost the API more than checking and keeping a report, so ``ProviderFastPath`` answers the
signed ones itself, outside the middleware stack but applying its rules through the same functions
(request id, metrics, security headers, body limit; tests/api/test_webhooks_in_edge.py). A request it
cannot take (bad signature, malformed body, too large) is handed to the whole app with its body, and
the app's handlers answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from api.middleware import REQUESTS
from api.routes import webhooks_in
from channels.base import WebhookRequest
from core.redis import get_redis
from core.settings import Settings, get_settings
from delivery import reports
from tests.api.test_webhooks_in import _vonage_app, signed

REPORT = {
    "msisdn": "33612345678",
    "to": "Relais",
    "messageId": "0C0000AB",
    "status": "delivered",
    "client-ref": "relais-7",
}


@pytest.fixture
def client(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _vonage_app(monkeypatch) as test_client:
        yield test_client


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests that reached the framework's route (its body reader is the route's first step)."""
    calls: list[str] = []
    original = webhooks_in._webhook

    async def counted(request: Request) -> WebhookRequest:
        calls.append(request.method)
        return await original(request)

    monkeypatch.setattr(webhooks_in, "_webhook", counted)
    return calls


def _count(status: str) -> float:
    return REQUESTS.labels("POST", webhooks_in.STATUS_PATH, status)._value.get()


def test_a_signed_report_is_kept_without_reaching_the_route(client: TestClient, route_calls: list[str]) -> None:
    before = _count("200")
    response = client.post(webhooks_in.STATUS_PATH, data=signed(REPORT))
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert route_calls == []
    # the request context still names the route, adds its id and security headers
    assert _count("200") == before + 1
    assert response.headers["x-request-id"] and response.headers["x-content-type-options"] == "nosniff"
    [kept] = get_redis(get_settings()).lrange(reports.PENDING_KEY, 0, -1)
    report = reports.decode(kept)
    assert (report.provider_message_id, report.status, report.client_ref) == ("0C0000AB", "delivered", "relais-7")


def test_a_signed_report_by_get_is_kept(client: TestClient, route_calls: list[str]) -> None:
    response = client.get(webhooks_in.STATUS_PATH, params=signed(REPORT))
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert route_calls == []


def test_a_badly_signed_report_goes_through_the_route_and_is_refused(
    client: TestClient, route_calls: list[str]
) -> None:
    before = _count("401")
    response = client.post(webhooks_in.STATUS_PATH, data={**signed(REPORT), "status": "failed"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert route_calls == ["POST"]  # the route read the body the fast path had read
    assert _count("401") == before + 1
    assert get_redis(get_settings()).llen(reports.PENDING_KEY) == 0


def test_provider_webhooks_skip_fastapis_telemetry_layer_and_other_requests_keep_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI's native OpenTelemetry layer asks the global providers on every request whether one is set:
    # a delivery report (one per message) does without it; the rest of the API keeps it
    asked: list[str] = []
    telemetry = client.app._native_telemetry  # type: ignore[attr-defined]

    def enabled() -> bool:
        asked.append("asked")
        return False

    monkeypatch.setattr(telemetry, "enabled", enabled)
    before = _count("200")
    response = client.post(webhooks_in.STATUS_PATH, data=signed(REPORT))
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert asked == [] and _count("200") == before + 1
    assert len(response.headers["x-request-id"]) == 32 and response.headers["x-frame-options"] == "DENY"
    assert client.get("/healthz").status_code == 200
    assert asked == ["asked"]
