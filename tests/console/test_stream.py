"""The live stream relays committed handoff events from Redis to an open console, in order."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from api.console.stream import format_event
from core import accounts, db
from core.models import ApiKey
from core.settings import Settings
from tests.console.helpers import create_console_user, escalated_conversation, log_in
from tests.helpers import auth_headers


def test_sse_frame_names_the_event_and_carries_json() -> None:
    frame = format_event({"kind": "conversation.escalated", "conversation_id": 4})
    assert frame == 'event: conversation.escalated\ndata: {"kind": "conversation.escalated", "conversation_id": 4}\n\n'
    assert format_event({"kind": "a\nb"}).startswith("event: a b\n")


def test_an_escalation_reaches_an_open_stream(live_server: str, runtime: Settings) -> None:
    headers = auth_headers("agent")
    with httpx.Client(base_url=live_server, timeout=10) as client:
        with client.stream("GET", "/console/stream", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines) == "retry: 2000"
            assert next(lines) == ": connected"
            conversation_id = escalated_conversation("+33644444444")
            event = ""
            for line in lines:
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                if line.startswith("data: ") and event == "conversation.escalated":
                    payload = json.loads(line.removeprefix("data: "))
                    assert payload["conversation_id"] == conversation_id
                    assert payload["reason"] == "human_requested"
                    break
        assert client.get("/console/stream").status_code == 401
        assert client.get("/console/stream", headers=auth_headers("marketer")).status_code == 403


def _ends_soon(response: httpx.Response) -> bool:
    """Whether the stream closes (rather than waits for the next event or keep-alive) within the read timeout."""
    try:
        for _ in response.iter_lines():
            pass
    except httpx.ReadTimeout:
        return False
    return True


def test_a_revoked_key_or_a_logged_out_session_ends_an_open_stream(
    live_server: str, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream relayed events to the browser of a user who had logged out (or been deactivated), and to a
    revoked API key, for as long as the connection stayed open: each is now checked again every
    ``RECHECK_SECONDS`` and the stream ends."""
    from api.console import stream

    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.5)
    key = auth_headers("agent")
    with httpx.Client(base_url=live_server, timeout=httpx.Timeout(10, read=6)) as client:
        with client.stream("GET", "/console/stream", headers=key) as response:
            assert response.status_code == 200
            with db.session_scope() as session:
                [row] = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None), ApiKey.role == "agent"))
                accounts.revoke_api_key(session, key_id=row.id)
            assert _ends_soon(response)  # ReadTimeout before: it waited for the next event
        assert client.get("/console/stream", headers=key).status_code == 401

    _, secret = create_console_user("stream-agent@example.com")
    with httpx.Client(base_url=live_server, timeout=httpx.Timeout(10, read=6)) as browser:
        csrf = log_in(browser, "stream-agent@example.com", secret)  # type: ignore[arg-type]
        with browser.stream("GET", "/console/stream") as response:
            assert response.status_code == 200
            cookie = {"relais_session": browser.cookies["relais_session"]}
            with httpx.Client(base_url=live_server, cookies=cookie) as other_tab:
                assert other_tab.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
            assert _ends_soon(response)
