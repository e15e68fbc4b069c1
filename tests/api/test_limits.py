"""Input limits (issue 15): request bodies refused while streaming, inbound texts capped, fields bounded."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from select import select as ready_sockets
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from conversations.models import InboundEvent, Message
from core import db
from core.settings import Settings
from tests.api.test_webhooks_in import inbound, signed, vonage_client
from tests.helpers import auth_headers
from workers.delivery.ingest import ingest_inbound

__all__ = ["vonage_client"]  # a fixture, imported to be used here

GIB = 1024**3
CHUNK = b"x" * (64 * 1024)
PUBLIC_WEBHOOKS = (
    "/webhooks/vonage/inbound",
    "/webhooks/vonage/status",
    "/webhooks/shopify/orders/create",
    "/webhooks/shopify/fulfillments/create",
    "/webhooks/shopify/refunds/create",
    "/api/v1/contacts/sync/webhook",
    "/api/v1/simulator/inbound",
)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


class _GigabyteBody:
    """A 1 GiB body produced 64 KiB at a time, counting what the server pulled."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < GIB:
            self.sent += len(CHUNK)
            yield CHUNK


@pytest.fixture
def app(runtime: Settings) -> FastAPI:
    from api.app import create_app

    return create_app(runtime)


async def _post(app: FastAPI, path: str, body: _GigabyteBody, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://relais.test") as client:
        return await client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("path", PUBLIC_WEBHOOKS)
def test_a_streamed_gigabyte_to_a_public_webhook_is_cut_off_at_its_limit(app: FastAPI, path: str) -> None:
    body = _GigabyteBody()
    before = _rss_kib()
    response = asyncio.run(_post(app, path, body))
    grown_kib = _rss_kib() - before
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 413 and "65536 bytes" in problem["detail"] and problem["instance"] == path
    assert problem["request_id"] == response.headers["x-request-id"]
    assert body.sent <= 64 * 1024 + len(CHUNK)  # the chunk that passed the limit, nothing after it
    assert grown_kib < 8 * 1024


@pytest.mark.parametrize("path", PUBLIC_WEBHOOKS)
def test_a_declared_gigabyte_is_refused_before_reading_a_byte(app: FastAPI, path: str) -> None:
    body = _GigabyteBody()
    response = asyncio.run(_post(app, path, body, headers={"Content-Length": str(GIB)}))
    assert response.status_code == 413 and body.sent == 0


def test_limits_per_route(app: FastAPI, runtime: Settings) -> None:
    """Uploads may exceed the 1 MiB default; every other route may not; each limit is a setting."""
    assert runtime.upload_max_bytes == 50 * 1024 * 1024 and runtime.body_max_bytes == 1024 * 1024
    two_mib = {"Content-Length": str(2 * 1024 * 1024)}
    for path in ("/api/v1/contacts", "/api/v1/templates", "/console/login"):
        assert asyncio.run(_post(app, path, _GigabyteBody(), headers=two_mib)).status_code == 413, path
    for path in ("/api/v1/contacts/import", "/api/v1/knowledge/documents", "/api/v1/intents"):
        body = _GigabyteBody()
        response = asyncio.run(_post(app, path, body, headers=two_mib))
        assert response.status_code == 401, path  # read by the route, refused for the missing key
    body = _GigabyteBody()
    csv = {"Content-Type": "text/csv", **auth_headers("marketer")}
    response = asyncio.run(_post(app, "/api/v1/contacts/import", body, headers=csv))
    assert response.status_code == 413 and str(50 * 1024 * 1024) in response.json()["detail"]
    assert 50 * 1024 * 1024 <= body.sent <= 50 * 1024 * 1024 + len(CHUNK)


@pytest.fixture
def server(app: FastAPI) -> Iterator[int]:
    """The app behind a real uvicorn on 127.0.0.1, in this process (so its RSS is ours)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    yield sock.getsockname()[1]
    uv.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("path", PUBLIC_WEBHOOKS)
def test_a_real_server_answers_413_and_stops_reading(server: int, path: str) -> None:
    """A chunked 1 GiB POST over TCP: 413 comes back while the client is still sending, RSS flat."""
    before = _rss_kib()
    frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
    with socket.create_connection(("127.0.0.1", server)) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent, pending = 0, frame
        while sent < GIB:
            readable, writable, _ = ready_sockets([conn], [conn], [], 10)
            if readable or not writable:
                break  # the answer is in (or the server stopped reading and never answered)
            try:
                count = conn.send(pending)
            except ConnectionError:
                break
            sent += count
            pending = pending[count:] or frame
        conn.settimeout(10)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * 1024 * 1024  # refused long before the client was done
    assert _rss_kib() - before < 8 * 1024


# -- inbound texts: cut to 1,600 characters and 10 parts at the webhook, flagged -------------------


def test_a_signed_long_vonage_sms_is_stored_cut_and_flagged(vonage_client: TestClient) -> None:
    response = vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0A0000F1", "x" * 60_000)))
    assert response.json() == {"stored": 1}
    with db.session_scope() as session:
        event = session.scalars(select(InboundEvent)).one()
        assert len(event.payload["text"]) == 1600 and event.payload["truncated"] is True
        event_id = event.id
    message_id = ingest_inbound(event_id)
    with db.session_scope() as session:
        assert session.scalar(select(Message.body).where(Message.id == message_id)) == "x" * 1600


def test_a_concatenation_of_too_many_parts_joins_its_first_ten(vonage_client: TestClient) -> None:
    def post(part: int) -> dict[str, int]:
        concat = {"concat": "true", "concat-ref": "99", "concat-part": str(part), "concat-total": "200"}
        params = signed(inbound(f"0B00{part:04d}", f"p{part} ", **concat))
        return dict(vonage_client.post("/webhooks/vonage/inbound", data=params).json())

    assert post(11) == {"stored": 0}  # acknowledged (a refusal would be retried), not kept
    assert [post(part) for part in range(1, 11)] == [{"stored": 1}] * 10
    with db.session_scope() as session:
        event_ids = list(session.scalars(select(InboundEvent.id).order_by(InboundEvent.id)))
    # all ten are stored: the first one processed joins them, the others find the message made
    assert [ingest_inbound(e) is not None for e in event_ids] == [True] + [False] * 9
    with db.session_scope() as session:
        assert session.scalar(select(Message.body)) == "".join(f"p{part} " for part in range(1, 11))


def test_the_simulator_refuses_a_text_above_the_cap(app_client: TestClient) -> None:
    response = app_client.post("/api/v1/simulator/inbound", json={"from": "+33612345678", "body": "x" * 1601})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body"
    assert app_client.post(
        "/api/v1/simulator/inbound", json={"from": "+33612345678", "body": "x" * 1600}
    ).status_code == 202


# -- fields: every string bounded, free-form objects bounded, template output bounded -------------


def test_oversized_contact_fields_are_422_naming_the_field(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "x" * 300_000}, "name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"attributes": {f"a{i}": 1 for i in range(101)}}, "attributes"),
        ({"attributes": {"plan": "x" * 20_000}}, "attributes"),
        ({"tags": ["vip"] * 51}, "tags"),
    ]
    for fields, name in cases:
        response = app_client.post("/api/v1/contacts", headers=headers, json={"phone": "+33612345678", **fields})
        assert response.status_code == 422, name
        assert [e["field"] for e in response.json()["errors"]] == [name]
    huge = {"phone": "+33612345678", "name": "x" * 5_000_000}
    five_mb = app_client.post("/api/v1/contacts", headers=headers, json=huge)
    assert five_mb.status_code == 413  # past the 1 MiB body limit: refused before it is parsed
    assert app_client.get("/api/v1/contacts", headers=headers).json()["items"] == []


def test_any_request_string_is_bounded_even_without_its_own_limit(app_client: TestClient) -> None:
    """``disposition`` has no limit of its own: RequestBody's 10,000 characters apply."""
    response = app_client.post(
        "/api/v1/conversations/999/close", headers=auth_headers("agent"), json={"disposition": "x" * 10_001}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "disposition"


def test_a_template_rendering_20_mb_fails_on_save_and_preview(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    bomb = '{{ "x" * 20000000 }}'
    saved = app_client.post("/api/v1/templates", headers=headers, json={"name": "bomb", "body": bomb})
    preview = app_client.post("/api/v1/templates/preview", headers=headers, json={"body": bomb})
    for response in (saved, preview):
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "body", "message": "renders more than 1600 characters"}]
        assert len(response.content) < 2000


def test_upload_form_fields_are_bounded(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/knowledge/documents",
        headers=auth_headers("admin"),
        files={"file": ("faq.txt", b"Delivery takes two days.", "text/plain")},
        data={"kb": "k" * 64},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "kb"
