"""The live stream relays committed handoff events from Redis to an open console, in order."""

from __future__ import annotations

import json

import httpx

from api.console.stream import format_event
from core.settings import Settings
from tests.console.helpers import escalated_conversation
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
