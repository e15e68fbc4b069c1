"""The operators' figures on ``/metrics``: read from the database and Redis every host shares, at scrape time.

A worker exposes no port, so before these figures a backlog of texts waiting to go, inbound texts never taken in,
a provider's pause or a growing escalation queue reached no scraper at all: ``/metrics`` held HTTP counters only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.inbound_backlog import unprocessed_before
from conversations.models import Conversation, InboundEvent
from core import db
from core.db import utcnow
from core.queue import JobSpec, enqueue
from core.redis import get_redis
from core.settings import Settings, get_settings
from delivery.limiter import RateLimiter, account_bucket
from handoff.models import Escalation


@pytest.fixture
def client(runtime_any_db: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(runtime_any_db)) as test_client:
        yield test_client


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _seed() -> None:
    """Texts due ten minutes ago, held for quiet hours, being sent, failed; inbound texts; an escalation."""
    now = utcnow()
    with db.session_scope() as session:
        contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
        late = flows.queue_outbound(session, contact=contact, body="late", lane="marketing", author_type="campaign")
        late.created_at = now - timedelta(minutes=10)
        held = flows.queue_outbound(session, contact=contact, body="held", lane="marketing", author_type="campaign")
        held.not_before, held.wait_reason = now + timedelta(hours=9), "quiet_hours"
        held.created_at = now - timedelta(hours=2)  # waiting on purpose: not late however old
        sending = flows.queue_outbound(session, contact=contact, body="going", lane="conversational", author_type="bot")
        sending.status = "sending"
        failed = flows.queue_outbound(session, contact=contact, body="lost", lane="conversational", author_type="bot")
        failed.status = "failed"
        conversation = Conversation(contact_id=contact.id, sender="+15550001", channel="simulator")
        session.add(conversation)
        session.flush()
        session.add(
            Escalation(conversation_id=conversation.id, reason_code="asked_for_human", sla_due_at=now,
                       created_at=now - timedelta(minutes=3))
        )  # fmt: skip
        for n, processed in enumerate((None, None, now)):
            session.add(
                InboundEvent(provider="vonage", provider_message_id=f"in-{n}", payload={"text": "hi"},
                             processed_at=processed, created_at=now - timedelta(minutes=5 - n))
            )  # fmt: skip


def test_metrics_show_what_waits_to_go_out_come_in_and_be_answered(client: TestClient) -> None:
    _seed()
    enqueue(JobSpec(func="workers.delivery.ingest.sweep_inbound", job_id="metrics-test", queue="inbound"))
    RateLimiter(get_redis(get_settings())).pause(account_bucket("vonage:main", 10), 120)

    got = _samples(client)

    assert got[("relais_outbound_in_flight", (("status", "queued"), ("wait_reason", "none")))] == 1
    assert got[("relais_outbound_in_flight", (("status", "queued"), ("wait_reason", "quiet_hours")))] == 1
    assert got[("relais_outbound_in_flight", (("status", "sending"), ("wait_reason", "none")))] == 1
    # the text due ten minutes ago is late; the one held two hours for quiet hours is not
    assert 600 <= got[("relais_outbound_oldest_due_seconds", ())] < 700
    assert got[("relais_outbound_last_hour", (("status", "failed"),))] == 1
    assert got[("relais_inbound_unprocessed", ())] == 2
    assert 300 <= got[("relais_inbound_oldest_unprocessed_seconds", ())] < 400
    assert got[("relais_handoff_waiting", ())] == 1
    assert 180 <= got[("relais_handoff_oldest_wait_seconds", ())] < 280
    assert got[("relais_queue_jobs", (("queue", "inbound"), ("state", "queued")))] == 1
    assert got[("relais_queue_jobs", (("queue", "transactional"), ("state", "queued")))] == 0
    paused = [value for (name, labels), value in got.items() if name == "relais_provider_paused_seconds"]
    assert len(paused) == 1 and 100 < paused[0] <= 120
    assert got[("relais_operations_source_up", (("source", "database"),))] == 1
    assert got[("relais_operations_source_up", (("source", "redis"),))] == 1


def test_an_unreachable_store_is_reported_down_and_the_others_still_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed()
    monkeypatch.setenv("RELAIS_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()

    got = _samples(client)

    assert got[("relais_operations_source_up", (("source", "redis"),))] == 0
    assert got[("relais_operations_source_up", (("source", "database"),))] == 1
    assert got[("relais_inbound_unprocessed", ())] == 2
    assert not [name for name, _ in got if name.startswith("relais_queue_jobs")]


def test_the_sweep_finds_unprocessed_texts_through_their_partial_index(runtime_any_db: Settings) -> None:
    """The sweep runs every minute; without the index it read every text ever received."""
    _seed()
    statement = unprocessed_before(utcnow(), limit=1000)
    with db.engine().connect() as conn:
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a small table is scanned whatever the indexes
            plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {compiled}")))
        else:
            plan = "\n".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        found = list(conn.execute(statement).scalars())
    assert "ix_inbound_events_unprocessed" in plan, plan
    assert len(found) == 2
