"""Vonage inbound and status webhooks: signatures, store-first, dedupe, concatenation, reports."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from conversations import flows
from conversations.models import InboundEvent, Message
from core import db
from core.queue import get_queue
from core.settings import Settings, get_settings
from tests.helpers import run_jobs, terminate_backends
from workers.delivery.ingest import drain_inbound, ingest_inbound, sweep_inbound

SECRET = "sig-secret-0123456789-0123456789-abcdef"


def _vonage_app(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    from api.app import create_app

    monkeypatch.setenv("RELAIS_CHANNEL", "vonage")
    monkeypatch.setenv("RELAIS_VONAGE_API_KEY", "abcd1234")
    monkeypatch.setenv("RELAIS_VONAGE_API_SECRET", "s3cr3t")
    monkeypatch.setenv("RELAIS_VONAGE_SIGNATURE_SECRET", SECRET)
    get_settings.cache_clear()
    return TestClient(create_app(get_settings()))


@pytest.fixture
def vonage_client(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _vonage_app(monkeypatch) as client:
        yield client


@pytest.fixture
def vonage_client_postgresql(runtime_any_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    if db.engine().dialect.name != "postgresql":
        pytest.skip("server-side connections exist on PostgreSQL only")
    with _vonage_app(monkeypatch) as client:
        yield client


def signed(params: dict[str, str], *, at: float | None = None) -> dict[str, str]:
    params = {**params, "timestamp": str(int(at if at is not None else time.time()))}
    digest = hmac.new(SECRET.encode(), digestmod=hashlib.sha256)
    for key in sorted(params):
        digest.update(f"&{key}={params[key].replace('&', '_').replace('=', '_')}".encode())
    return {**params, "sig": digest.hexdigest()}


def inbound(message_id: str, text: str, **extra: str) -> dict[str, str]:
    return {
        "msisdn": "33612345678",
        "to": "33700000000",
        "messageId": message_id,
        "text": text,
        "type": "text",
        **extra,
    }


def _count(model: type) -> int:
    with db.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _queued(queue: str) -> list[str]:
    return [str(job.func_name) for job in get_queue(queue).get_jobs()]


def test_signed_inbound_is_stored_once_and_processed_by_a_worker(vonage_client: TestClient) -> None:
    params = signed(inbound("0A000001", "Where is my order?"))
    first = vonage_client.post("/webhooks/vonage/inbound", data=params)
    replay = vonage_client.post("/webhooks/vonage/inbound", data=params)
    assert first.json() == {"stored": 1} and replay.json() == {"stored": 0}
    assert _count(InboundEvent) == 1 and _count(Message) == 0
    assert _queued("inbound") == ["workers.delivery.ingest.drain_inbound"]
    with db.session_scope() as session:
        event_id = int(session.scalar(select(InboundEvent.id)) or 0)
    message_id = ingest_inbound(event_id)
    assert ingest_inbound(event_id) is None  # idempotent
    with db.session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        assert (message.body, message.status, message.sender) == ("Where is my order?", "received", "+33700000000")
    assert "workers.jobs.inbound.process_inbound" in _queued("inbound")


def test_a_burst_schedules_one_drain_job_that_processes_every_text(vonage_client: TestClient) -> None:
    for n in range(5):
        assert vonage_client.post(
            "/webhooks/vonage/inbound", data=signed(inbound(f"0D{n:06d}", f"text {n}"))
        ).json() == {"stored": 1}
    assert _queued("inbound") == ["workers.delivery.ingest.drain_inbound"]
    assert drain_inbound() == 5
    with db.session_scope() as session:
        received = list(session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))
        assert [m.body for m in received] == [f"text {n}" for n in range(5)]
        assert all(m.analysis["decision"] for m in received)  # answered by the drain itself
    assert "workers.jobs.inbound.process_inbound" not in _queued("inbound")  # no job per text
    # the flag was cleared: the next text schedules a new drain job
    vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0D999999", "later")))
    assert _queued("inbound").count("workers.delivery.ingest.drain_inbound") == 2


def test_busy_workers_do_not_pile_up_drain_jobs(vonage_client: TestClient) -> None:
    """A running drain clears the "scheduled" flag before each pop; while the job the first text queued has
    not started (both workers busy), the next texts join it instead of queueing one job per batch that
    would find the list empty."""
    from core.redis import get_redis

    client = get_redis(get_settings())
    vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0F000001", "first")))
    for n in range(2, 5):
        client.delete(flows.DRAIN_SCHEDULED_KEY)  # as a running drain does before its next pop
        vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound(f"0F00000{n}", f"text {n}")))
    assert _queued("inbound") == ["workers.delivery.ingest.drain_inbound"]
    assert drain_inbound() == 4  # the waiting job, when it starts, takes every text
    vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0F000009", "later")))
    assert _queued("inbound").count("workers.delivery.ingest.drain_inbound") == 2  # it started: a new one


def test_unannounced_events_are_swept(vonage_client: TestClient) -> None:
    from core.redis import get_redis

    vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0E000001", "lost announcement")))
    get_redis(get_settings()).delete("relais:inbound:pending")
    assert sweep_inbound(older_than_seconds=0) == 1
    assert sweep_inbound(older_than_seconds=0) == 0
    assert _count(Message) == 1


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (inbound("0A000002", "hi"), "unsigned"),
        ({**signed(inbound("0A000002", "hi")), "text": "tampered"}, "bad_signature"),
        (signed(inbound("0A000002", "hi"), at=time.time() - 600), "replay"),
    ],
)
def test_bad_signatures_are_401_problems(vonage_client: TestClient, params: dict[str, str], reason: str) -> None:
    response = vonage_client.post("/webhooks/vonage/inbound", data=params)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["reason"] == reason
    assert _count(InboundEvent) == 0


def _post_part(client: TestClient, message_id: str, part: str, text: str) -> int:
    concat = {"concat": "true", "concat-ref": "77", "concat-part": part, "concat-total": "3"}
    assert client.post("/webhooks/vonage/inbound", data=signed(inbound(message_id, text, **concat))).json() == {
        "stored": 1
    }
    with db.session_scope() as session:
        return int(session.scalar(select(func.max(InboundEvent.id))) or 0)


def test_concatenated_parts_are_joined_once_all_arrived(vonage_client: TestClient) -> None:
    early = [_post_part(vonage_client, "0B000003", "3", "world!"), _post_part(vonage_client, "0B000001", "1", "Hello ")]
    assert [ingest_inbound(e) for e in early] == [None, None]  # a part missing: nothing to process yet
    last = _post_part(vonage_client, "0B000002", "2", "dear ")
    assert ingest_inbound(last) is not None
    assert [ingest_inbound(e) for e in early] == [None, None]
    with db.session_scope() as session:
        bodies = list(session.scalars(select(Message.body)))
    assert bodies == ["Hello dear world!"]


def test_status_webhook_updates_the_message(vonage_client: TestClient) -> None:
    from contacts.service import get_or_create_by_phone
    from conversations.flows import queue_outbound

    with db.session_scope() as session:
        contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
        message = queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="api")
        message.status, message.provider, message.provider_message_id = "sent", "vonage-sms", "0C000001"
        message_id = message.id
    dlr = {"msisdn": "33612345678", "to": "Relais", "messageId": "0C000001", "status": "failed", "err-code": "6"}
    response = vonage_client.post("/webhooks/vonage/status", data=signed(dlr))
    assert response.json() == {"accepted": 1}
    # reports are applied in batches by a job (delivery.reports), enqueued a moment later so more gather
    deadline = time.monotonic() + 10
    while not get_queue("inbound").count and time.monotonic() < deadline:
        time.sleep(0.05)
    run_jobs()
    with db.session_scope() as session:
        stored = session.get(Message, message_id)
        assert stored is not None and (stored.status, stored.error_code) == ("failed", "6")


def test_signed_list_valued_fields_are_refused_and_nothing_is_stored(vonage_client: TestClient) -> None:
    body = json.dumps(
        {"message_uuid": "u-list", "from": ["33612345678"], "to": "33700000000", "text": "hi", "message_type": "text"}
    ).encode()
    claims = {"iat": int(time.time()), "jti": "j1", "payload_hash": hashlib.sha256(body).hexdigest()}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = vonage_client.post(
        "/webhooks/vonage/inbound",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422 and response.json()["errors"] == [{"field": "from", "reason": "wrong_type"}]
    assert _count(InboundEvent) == 0


def test_an_inbound_text_is_stored_by_one_autocommitted_insert(vonage_client: TestClient) -> None:
    """The webhook's only write commits itself: no transaction opened and committed around it (on
    PostgreSQL a BEGIN and a COMMIT round trip per text), and it is announced once stored."""
    seen: list[tuple[str, bool]] = []

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        autocommit = dbapi.autocommit if conn.dialect.name == "postgresql" else dbapi.isolation_level is None
        seen.append((statement.split()[0], bool(autocommit)))

    event.listen(db.engine(), "before_cursor_execute", on_statement)
    try:
        assert vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0A0000A1", "Hi"))).json() == {
            "stored": 1
        }
    finally:
        event.remove(db.engine(), "before_cursor_execute", on_statement)
    assert seen == [("INSERT", True)]
    assert _count(InboundEvent) == 1
    assert _queued("inbound") == ["workers.delivery.ingest.drain_inbound"]


def test_the_webhook_after_its_pooled_connection_was_killed_still_stores_the_text(
    vonage_client_postgresql: TestClient,
) -> None:
    """A checkout sends no SELECT 1 any more (core.db): a pooled connection whose backend died (a
    restart, an administrator, a proxy) must still be replaced before the text's insert uses it."""
    first = vonage_client_postgresql.post("/webhooks/vonage/inbound", data=signed(inbound("0A0000B1", "Hi")))
    assert first.json() == {"stored": 1}
    terminate_backends(get_settings().resolved_database_url)
    second = vonage_client_postgresql.post("/webhooks/vonage/inbound", data=signed(inbound("0A0000B2", "Still there?")))
    assert second.status_code == 200 and second.json() == {"stored": 1}
    assert _count(InboundEvent) == 2


def test_an_inbound_text_costs_one_worker_thread_hand_off(
    vonage_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks and the insert run in one worker thread (with its commit); the answer must not cost a
    second hand-off (FastAPI's dependencies and response validation ran in the thread pool too)."""
    import anyio.to_thread

    calls: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(getattr(func, "func", func), "__name__", "?"))  # starlette passes a partial
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    answer = vonage_client.post("/webhooks/vonage/inbound", data=signed(inbound("0A0000C1", "Hi")))
    assert answer.status_code == 200 and answer.json() == {"stored": 1}
    assert calls == ["store_texts"]
    assert answer.headers["x-request-id"] and answer.headers["x-content-type-options"] == "nosniff"


def test_status_answers_are_built_once_and_each_response_is_whole(vonage_client: TestClient) -> None:
    """The fast path's 200 (headers and body) is built once per answer and reused: each response still
    carries its own request id, the security headers once each, a Content-Length that fits the body,
    and the metrics count it under the route's template."""
    from api.middleware import REQUESTS

    def counted() -> float:
        return REQUESTS.labels("POST", "/webhooks/vonage/status", "200")._value.get()

    before = counted()
    dlr = {"msisdn": "33612345678", "to": "Relais", "messageId": "0C0000F1", "status": "delivered", "err-code": "0"}
    answers = [vonage_client.post("/webhooks/vonage/status", data=signed({**dlr, "messageId": f"0C0000F{i}"}))
               for i in range(3)]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 200 and answer.content == b'{"accepted":1}'
        assert answer.headers.get_list("content-type") == ["application/json"]
        assert answer.headers.get_list("content-length") == ["14"]
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert len({answer.headers["x-request-id"] for answer in answers}) == 3
    assert counted() == before + 3
    refused = vonage_client.post("/webhooks/vonage/status", data={**signed(dlr), "status": "failed"})
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
