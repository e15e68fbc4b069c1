"""The providers' webhooks are logged when they fail, not per report; other routes keep their access log.

A campaign's delivery reports arrive one request per message: an access-log line each cost the API
more processor time than the rest of its middleware. The signature check, the body limit, the request
id and the security headers stay on every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from tests.api.test_webhooks_in import SECRET, signed

REPORT = {"msisdn": "33612345678", "to": "Relais", "messageId": "0C0000AA", "status": "delivered"}


@pytest.fixture
def vonage_client(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with the Vonage channel and the access log on (tests run at WARNING).

    The access logger is taken afresh after ``create_app`` configured logging: structlog caches a
    logger's level and renderer on its first use, so one an earlier test used (at WARNING, or
    rendering text) would print nothing here and the "no line" check would pass whatever happened.
    """
    from api import middleware
    from api.app import create_app

    for name, value in {
        "CHANNEL": "vonage",
        "VONAGE_API_KEY": "abcd1234",
        "VONAGE_API_SECRET": "s3cr3t",
        "VONAGE_SIGNATURE_SECRET": SECRET,
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
    }.items():
        monkeypatch.setenv(f"RELAIS_{name}", value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    monkeypatch.setattr(middleware, "log", structlog.get_logger("relais.access"))
    with TestClient(app) as client:
        yield client


def _access_lines(err: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


def test_a_signed_report_is_kept_without_an_access_line(
    vonage_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = vonage_client.post("/webhooks/vonage/status", data=signed(REPORT))
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert response.headers["x-request-id"] and response.headers["x-content-type-options"] == "nosniff"
    assert _access_lines(capsys.readouterr().err) == []


def test_a_badly_signed_report_is_refused_and_logged(
    vonage_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = vonage_client.post("/webhooks/vonage/status", data={**signed(REPORT), "status": "failed"})
    assert response.status_code == 401
    [line] = _access_lines(capsys.readouterr().err)
    assert (line["path"], line["status"]) == ("/webhooks/vonage/status", 401)


def test_console_pages_keep_their_access_line_and_headers(
    vonage_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = vonage_client.get("/console/login")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    [line] = _access_lines(capsys.readouterr().err)
    assert (line["path"], line["status"]) == ("/console/login", 200)
