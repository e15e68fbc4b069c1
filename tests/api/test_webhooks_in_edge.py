"""The provider webhooks' fast path, outside the app's middlewares, keeps what those middlewares guarantee.

``ProviderFastPath`` wraps the whole app for the two provider paths and applies the request context's and
the body limit's rules itself (their own functions): these tests hold its answers to the ones the app's
chain gives on the same path — the security headers, the request id (the caller's, or one bound for the
logs and kept when the request is handed over), the metrics and the body limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from api.middleware import LATENCY, REQUESTS
from api.routes import webhooks_in
from api.security_headers import security_headers
from channels.base import WebhookRequest
from core.errors import NotFound
from core.redis import get_redis
from core.settings import Settings, get_settings
from delivery import reports
from tests.api.test_webhooks_in import _vonage_app, signed

REPORT = {"msisdn": "33612345678", "to": "Relais", "messageId": "0C0000AC", "status": "delivered"}
PATH = webhooks_in.STATUS_PATH


@pytest.fixture
def client(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _vonage_app(monkeypatch) as test_client:
        yield test_client


def _counted(status: str, route: str = PATH) -> float:
    return REQUESTS.labels("POST", route, status)._value.get()


def _timed() -> float:
    [metric] = LATENCY.collect()
    return sum(s.value for s in metric.samples if s.name.endswith("_count") and s.labels["route"] == PATH)


def test_the_fast_answer_carries_the_chains_headers(client: TestClient) -> None:
    kept = client.post(PATH, data=signed(REPORT))
    refused = client.post(PATH, data={**signed(REPORT), "status": "failed"})  # answered by the app's chain
    assert (kept.status_code, refused.status_code) == (200, 401)
    for name, value in security_headers(PATH):
        assert kept.headers[name.decode()] == refused.headers[name.decode()] == value.decode()
    assert len(kept.headers["x-request-id"]) == 32 and kept.headers["x-request-id"] != refused.headers["x-request-id"]
    assert len(kept.headers.get_list("content-security-policy")) == 1


def test_a_callers_request_id_is_echoed_and_a_bad_one_replaced(client: TestClient) -> None:
    assert client.post(PATH, data=signed(REPORT), headers={"X-Request-ID": "lb-7.a:b"}).headers["x-request-id"] == (
        "lb-7.a:b"
    )
    replaced = client.post(PATH, data=signed(REPORT), headers={"X-Request-ID": "a b"}).headers["x-request-id"]
    assert replaced != "a b" and len(replaced) == 32


def test_the_fast_path_counts_and_times_every_report(client: TestClient) -> None:
    before, timed = _counted("200"), _timed()
    for _ in range(3):
        assert client.post(PATH, data=signed(REPORT)).status_code == 200
    assert (_counted("200"), _timed()) == (before + 3, timed + 3)


def test_a_handed_over_request_keeps_the_id_its_checks_logged_under(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound: list[str] = []

    async def failing(settings: Settings, webhook: WebhookRequest) -> int:
        bound.append(structlog.contextvars.get_contextvars()["request_id"])
        raise NotFound("the Vonage channel is not enabled (RELAIS_CHANNEL)")

    monkeypatch.setattr(webhooks_in, "take_status", failing)
    before = _counted("404")
    response = client.post(PATH, data=signed(REPORT))
    assert response.status_code == 404
    # the fast path's attempt, then the route's, under the id the answer carries
    assert bound == [response.headers["x-request-id"]] * 2
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert _counted("404") == before + 1
    assert "request_id" not in structlog.contextvars.get_contextvars()


async def _chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _post_chunked(client: TestClient, body: bytes, size: int) -> httpx.Response:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://relais.test") as http:
            headers = {"content-type": "application/x-www-form-urlencoded"}
            return await http.post(PATH, content=_chunked(body, size), headers=headers)

    return asyncio.run(post())


def test_a_report_sent_in_chunks_within_the_limit_is_kept(client: TestClient) -> None:
    response = _post_chunked(client, urlencode(signed(REPORT)).encode(), 16)
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert get_redis(get_settings()).llen(reports.PENDING_KEY) == 1


def test_a_chunked_body_one_byte_over_the_limit_gets_the_body_limits_413(client: TestClient) -> None:
    limit = get_settings().webhook_body_max_bytes
    body = urlencode(signed(REPORT)).encode()
    body += b"&pad=" + b"x" * (limit + 1 - len(body) - 5)
    before = _counted("413")
    response = _post_chunked(client, body, 4096)
    assert _counted("413") == before + 1  # the route was matched before the body limit cut the body
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-frame-options"] == "DENY"
    assert get_redis(get_settings()).llen(reports.PENDING_KEY) == 0


def test_a_client_gone_before_the_end_of_its_body_is_counted_and_not_answered(client: TestClient) -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"msisdn=336", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    state: dict[str, str] = {}
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "headers": [],
        "query_string": b"",
        "root_path": "",
        "state": state,
    }
    before = _counted("500", "unmatched")

    async def call() -> None:
        await client.app(scope, receive, send)

    asyncio.run(call())
    assert sent == [] and _counted("500", "unmatched") == before + 1
    assert len(state["request_id"]) == 32
