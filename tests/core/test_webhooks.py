"""Outbound webhooks: signed, retried with backoff on failure, logged, replayable."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from core import db, tasks, webhooks
from core.db import utcnow
from core.models import WebhookDelivery
from core.outbound_http import OutboundPolicy
from core.queue import get_queue
from core.settings import Settings
from tests.core.trickling_server import trickling
from tests.core.webhook_receiver import Receiver, serving
from tests.helpers import auth_headers, run_jobs


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving()


def test_signature_round_trip_and_replay_window() -> None:
    header = webhooks.sign("s3cret", b'{"a":1}', timestamp=1_000_000)
    assert webhooks.verify("s3cret", header, b'{"a":1}', now=1_000_100)
    assert not webhooks.verify("s3cret", header, b'{"a":2}', now=1_000_100)
    assert not webhooks.verify("other", header, b'{"a":1}', now=1_000_100)
    assert not webhooks.verify("s3cret", header, b'{"a":1}', now=1_000_000 + 301)


def test_delivery_is_signed_and_logged(outbound_to_loopback: None, runtime: Settings, receiver: Receiver) -> None:
    with db.session_scope() as session:
        sub = webhooks.create_subscription(session, url=receiver.url, event_types=["contact.opted_out"])
        secret = sub.secret
        webhooks.emit(session, "contact.opted_out", {"contact_id": 7})
        webhooks.emit(session, "message.received", {"message_id": 1})  # not subscribed
    run_jobs()
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert webhooks.verify(secret, headers["relais-signature"], body)
    assert json.loads(body)["data"] == {"contact_id": 7}
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.status == "delivered" and delivery.last_status_code == 200 and delivery.attempts == 1


def test_failure_schedules_backoff_then_gives_up_after_24h(
    outbound_to_loopback: None, runtime: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    with db.session_scope() as session:
        webhooks.create_subscription(session, url=receiver.url, event_types=["*"])
        webhooks.emit(session, "campaign.completed", {"campaign_id": 3})
    run_jobs()
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
        assert delivery.next_attempt_at is not None
        delivery_id = delivery.id
    scheduled = get_queue("default").scheduled_job_registry.get_job_ids()
    assert scheduled == [f"webhook-{delivery_id}-1"]
    assert webhooks.backoff(1) == timedelta(seconds=30) and webhooks.backoff(20) == timedelta(hours=1)
    with db.session_scope() as session:
        stored = session.get(WebhookDelivery, delivery_id)
        assert stored is not None
        stored.created_at = stored.created_at - timedelta(hours=24)
        webhooks.record_attempt(session, stored, status_code=503, error="down")
        assert stored.status == "failed" and stored.next_attempt_at is None


@pytest.mark.parametrize(("retry_after", "seconds"), [("600", 600), ("7200", 7200), ("", 30)])
def test_a_receivers_retry_after_is_honoured(outbound_to_loopback: None, runtime: Settings, receiver: Receiver,
                                            retry_after: str, seconds: int) -> None:
    """A 429 saying "Retry-After: 600" was knocked on again after 30 s (the backoff ignored it); now the next
    attempt is scheduled when the receiver asked, past the hour's cap too (the 24-hour window still ends it)."""
    receiver.statuses, receiver.retry_after = [429], [retry_after] if retry_after else []
    with db.session_scope() as session:
        webhooks.create_subscription(session, url=receiver.url, event_types=["*"])
        webhooks.emit(session, "campaign.completed", {"campaign_id": 3})
    before = utcnow()
    run_jobs()
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert (delivery.status, delivery.last_status_code) == ("pending", 429)
        assert delivery.next_attempt_at is not None
        due = delivery.next_attempt_at.replace(tzinfo=UTC) - before
        assert timedelta(seconds=seconds) <= due <= timedelta(seconds=seconds + 10), due
        assert delivery.last_error.endswith(f"; Retry-After {retry_after} s") == bool(retry_after)


def test_subscription_api_and_replay(outbound_to_loopback: None, app_client: TestClient, receiver: Receiver) -> None:
    admin = auth_headers("admin")
    bad = app_client.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["nope"]}, headers=admin)
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
    created = app_client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": ["conversation.closed"]}, headers=admin
    )
    assert created.status_code == 201 and len(created.json()["secret"]) == 64
    with db.session_scope() as session:
        webhooks.emit(session, "conversation.closed", {"conversation_id": 1})
    run_jobs()
    deliveries = app_client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries", headers=admin).json()
    assert [d["status"] for d in deliveries] == ["delivered"]
    replay = app_client.post(f"/api/v1/webhooks/deliveries/{deliveries[0]['id']}/replay", headers=admin)
    assert replay.status_code == 202
    run_jobs()
    assert len(receiver.received) == 2
    assert json.loads(receiver.received[1][1]) == json.loads(receiver.received[0][1])  # the same event again
    # a new delivery, listed first; the first keeps its outcome (a replay reset it in place: one row, 2 attempts)
    again = app_client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries", headers=admin).json()
    assert [(d["id"], d["status"], d["attempts"]) for d in again] == [
        (replay.json()["id"], "delivered", 1), (deliveries[0]["id"], "delivered", 1)]
    assert replay.json()["id"] != deliveries[0]["id"]
    found = app_client.get("/api/v1/audit", params={"action": "webhook.replay"}, headers=admin).json()["items"]
    # on the webhook (it named "webhook delivery 1" alone, outside the webhook's History), with both deliveries
    assert (found[0]["target_type"], found[0]["target_id"]) == ("webhook_subscription", str(created.json()["id"]))
    assert found[0]["diff"] == {"delivery_id": replay.json()["id"], "replay_of": deliveries[0]["id"],
                                "event": "conversation.closed"}


def test_subscription_secret_is_encrypted_at_rest(runtime: Settings) -> None:
    with db.session_scope() as session:
        sub = webhooks.create_subscription(session, url="https://example.com/hook", event_types=["*"])
        secret, sub_id = sub.secret, sub.id
    with db.engine().connect() as conn:
        raw = conn.execute(sa.text("SELECT secret FROM webhook_subscriptions WHERE id = :id"), {"id": sub_id}).scalar()
    assert isinstance(raw, str) and raw.startswith("t1:") and secret not in raw


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://0x7f000001/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:6379/",
        "file:///etc/passwd",
    ],
)
def test_internal_webhook_urls_are_refused_with_422(app_client: TestClient, url: str) -> None:
    response = app_client.post(
        "/api/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=auth_headers("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"


def test_delivery_log_keeps_status_and_timing_never_the_response_body(
    outbound_to_loopback: None, runtime: Settings, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    with db.session_scope() as session:
        webhooks.create_subscription(session, url=receiver.url, event_types=["*"])
        webhooks.emit(session, "campaign.completed", {"campaign_id": 3})
    run_jobs()
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.last_status_code == 500
        assert delivery.last_error.startswith("HTTP 500 in ") and delivery.last_error.endswith(" ms")
        assert "hunter2" not in delivery.last_error


def test_a_subscription_whose_address_turned_internal_is_refused_at_delivery(
    runtime: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:  # saved while internal targets were allowed (or DNS said public)
        webhooks.create_subscription(
            session, url=receiver.url, event_types=["*"], policy=OutboundPolicy(allow_private=True)
        )
        webhooks.emit(session, "campaign.completed", {"campaign_id": 3})
    run_jobs()
    assert receiver.received == []
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.status == "pending" and delivery.last_status_code is None
        assert delivery.last_error.startswith("refused: ") and "loopback" in delivery.last_error


@pytest.mark.usefixtures("outbound_to_loopback")
def test_a_delivery_whose_job_was_lost_is_swept_and_delivered(runtime_any_db: Settings, receiver: Receiver) -> None:
    from core.queue import all_queues
    from core.tasks import PERIODIC, sweep_webhooks

    assert "core.tasks.sweep_webhooks" in {p.func for p in PERIODIC}
    with db.session_scope() as session:
        webhooks.create_subscription(session, url=receiver.url, event_types=["*"])
        lost, fresh = (webhooks.emit(session, "campaign.completed", {"campaign_id": n})[0] for n in (1, 2))
        lost_id, fresh_id = lost.id, fresh.id
    for queue in all_queues():  # the after-commit enqueue never reached Redis
        queue.empty()
    assert sweep_webhooks() == 0  # not overdue yet: its job may only be late
    with db.session_scope() as session:
        stored = session.get(WebhookDelivery, lost_id)
        assert stored is not None
        stored.created_at = stored.created_at - timedelta(minutes=10)
    assert sweep_webhooks() == 1
    assert sweep_webhooks() == 1  # the same job id: queued once
    assert get_queue("default").count == 1
    run_jobs()
    assert len(receiver.received) == 1
    with db.session_scope() as session:
        assert session.get(WebhookDelivery, lost_id).status == "delivered"  # type: ignore[union-attr]
        assert session.get(WebhookDelivery, fresh_id).status == "pending"  # type: ignore[union-attr]


def test_a_test_event_reaches_one_webhook_and_a_new_secret_signs_from_then_on(
    outbound_to_loopback: None, app_client: TestClient, receiver: Receiver
) -> None:
    """An admin could not check a receiver without waiting for a real event, nor replace a leaked secret but by
    adding the webhook again. ``POST …/test`` sends a ``webhook.test`` event to that webhook only (whatever its events),
    ``POST …/secret`` answers a new secret once, after which deliveries are signed with it and not the old one;
    both audited; a deactivated webhook gets neither."""
    admin = auth_headers("admin")
    made = app_client.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["campaign.completed"]},
                           headers=admin).json()
    other = app_client.post("/api/v1/webhooks", json={"url": receiver.url + "/other", "event_types": ["*"]},
                            headers=admin).json()
    sent = app_client.post(f"/api/v1/webhooks/{made['id']}/test", headers=admin)
    assert sent.status_code == 202 and sent.json()["event_type"] == "webhook.test"
    run_jobs()
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert json.loads(body)["type"] == "webhook.test" and headers["relais-event"] == "webhook.test"
    assert webhooks.verify(made["secret"], headers["relais-signature"], body)

    rotated = app_client.post(f"/api/v1/webhooks/{made['id']}/secret", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert len(new) == 64 and new != made["secret"]
    assert "secret" not in app_client.get("/api/v1/webhooks", headers=admin).json()[0]
    app_client.post(f"/api/v1/webhooks/{made['id']}/test", headers=admin)
    run_jobs()
    headers, body = receiver.received[1]
    assert webhooks.verify(new, headers["relais-signature"], body)
    assert not webhooks.verify(made["secret"], headers["relais-signature"], body)
    log = app_client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=admin).json()
    assert [d["status"] for d in log] == ["delivered", "delivered"]
    assert app_client.get(f"/api/v1/webhooks/{other['id']}/deliveries", headers=admin).json() == []

    actions = [e["action"] for e in app_client.get("/api/v1/audit", headers=admin).json()["items"]]
    assert actions.count("webhook.test") == 2 and actions.count("webhook.secret.rotate") == 1
    app_client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin)
    refused = app_client.post(f"/api/v1/webhooks/{made['id']}/test", headers=admin)
    assert refused.status_code == 409 and "deactivated" in refused.json()["detail"]
    assert app_client.post(f"/api/v1/webhooks/{made['id']}/secret", headers=admin).status_code == 409
    assert app_client.post("/api/v1/webhooks/999/test", headers=admin).status_code == 404


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(
    outbound_to_loopback: None, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every 0.2 s never let the 10 s per-read timeout expire: the worker was held for as long as the
    receiver liked. The delivery ends at its deadline, logged, and is tried again later."""
    monkeypatch.setattr(tasks, "DEADLINE_SECONDS", 4.0)  # the answer trickles for 10 s
    with trickling(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok........") as url:
        with db.session_scope() as session:
            webhooks.create_subscription(session, url=url, event_types=["*"])
            webhooks.emit(session, "campaign.completed", {"campaign_id": 3})
            session.flush()
            delivery_id = session.query(WebhookDelivery).one().id
        start = time.monotonic()
        tasks.deliver_webhook(delivery_id)
        assert time.monotonic() - start < 6
    with db.session_scope() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_error == "ReadTimeout: no complete answer within 4 s (the deadline for the whole request)"
