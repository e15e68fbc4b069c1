"""The delivery engine against the real Vonage SDK and a fake Vonage HTTPS server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from channels.base import DeliveryReport
from channels.senders import create_sender, set_account_rate
from contacts.models import Contact
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message
from core import db
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery, states
from delivery.engine import DeliveryEngine
from delivery.policy import RetryPolicy
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import KEY, SECRET, make_engine


def engine(fake: FakeVonage, runtime: Settings, retry: RetryPolicy | None = None) -> DeliveryEngine:
    return make_engine(fake, runtime, retry=retry)


def queue(count: int, *, lane: str = "transactional", opted_out: bool = False) -> list[int]:
    ids = []
    with db.session_scope() as session:
        if not session.scalar(select(func.count()).select_from(Message)):
            create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
            set_account_rate(session, name="default", throughput=2000)
        for n in range(count):
            contact, _ = get_or_create_by_phone(session, phone_e164=f"+336{10000000 + n}", country="FR")
            contact.opted_out = opted_out
            ids.append(
                flows.queue_outbound(session, contact=contact, body=f"hello {n}", lane=lane, author_type="api").id
            )
    return ids


def statuses(ids: list[int]) -> dict[int, tuple[str, int, str]]:
    with db.session_scope() as session:
        rows = session.execute(
            select(Message.id, Message.status, Message.attempts, Message.error_code).where(Message.id.in_(ids))
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_batch_is_sent_with_client_refs_and_not_twice(fake: FakeVonage, runtime: Settings) -> None:
    ids = queue(5)
    sender = engine(fake, runtime)
    assert sender.send_batch(ids).sent == 5
    assert sender.send_batch(ids).claimed == 0  # a repeated job sends nothing
    refs = sorted(r.form["client-ref"] for r in fake.requests)
    assert refs == sorted(f"relais-{i}" for i in ids)
    assert {s for s, _, _ in statuses(ids).values()} == {"sent"}


def test_retryable_errors_back_off_then_dead_letter(fake: FakeVonage, runtime: Settings) -> None:
    [message_id] = queue(1)
    sender = engine(fake, runtime, retry=RetryPolicy(max_attempts=2, base_seconds=0.01))
    # an error at Vonage (a throttle burns no attempt: tests/delivery/test_throttle.py)
    failing = {"message-count": "1", "messages": [{"status": "5", "error-text": "Internal Error"}]}
    fake.fail_next(200, failing)
    assert sender.send_batch([message_id]).retried == 1
    status, attempts, code = statuses([message_id])[message_id]
    assert (status, attempts, code) == ("queued", 1, "5")
    time.sleep(0.05)  # past the backoff
    fake.fail_next(200, failing)
    assert sender.send_batch([message_id]).dead == 1
    assert statuses([message_id])[message_id][:2] == ("dead", 2)
    with db.session_scope() as session:
        assert "gave up after 2 attempts" in session.get(Message, message_id).error_reason  # type: ignore[union-attr]


def test_permanent_error_fails_without_retry(fake: FakeVonage, runtime: Settings) -> None:
    [message_id] = queue(1)
    fake.fail_next(200, {"message-count": "1", "messages": [{"status": "6", "error-text": "Unroutable"}]})
    assert engine(fake, runtime).send_batch([message_id]).failed == 1
    assert statuses([message_id])[message_id] == ("failed", 1, "6")


def test_consent_is_checked_at_send_time(fake: FakeVonage, runtime: Settings) -> None:
    marketing = queue(2, lane="marketing", opted_out=True)
    report = engine(fake, runtime).send_batch(marketing)
    assert report.rejected == 2 and fake.requests == []
    assert {s for s, _, _ in statuses(marketing).values()} == {"rejected"}


WORKER = """
from core.runtime import bootstrap
from workers.runner import make_worker
bootstrap()
make_worker(threaded=True).work(burst=True, logging_level="ERROR")
"""


def test_worker_killed_mid_send_loses_and_duplicates_nothing(fake: FakeVonage, runtime: Settings) -> None:
    total = 2000
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000001", throughput=1000)
        set_account_rate(session, name="default", throughput=1000)
        contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678", country="FR")
        rows = [
            Message(
                direction="out",
                contact_id=contact.id,
                body=f"m{n}",
                status="queued",
                lane="transactional",  # no send window: the test may run at any hour of any day
                media=[],
                analysis={},
            )
            for n in range(total)
        ]
        session.add_all(rows)
        session.flush()
        ids = [r.id for r in rows]
    from core.queue import enqueue

    for start in range(0, total, 100):
        enqueue(flows.send_job(ids[start : start + 100], lane="transactional"))
    env = {
        **os.environ,
        "RELAIS_CHANNEL": "vonage",
        "RELAIS_VONAGE_API_KEY": KEY,
        "RELAIS_VONAGE_API_SECRET": SECRET,
        "RELAIS_VONAGE_API_HOST": fake.host,
        "RELAIS_VONAGE_REST_HOST": fake.host,
    }
    # sends past the 666th are held unanswered, so the kill lands with a batch claimed and part of it
    # never handed over (killed between two batches, there would be nothing to recover)
    fake.hold_after(total // 3)
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=Path(__file__).parents[2])
    deadline = time.time() + 60
    while len(fake.requests) <= total // 3 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the batch's other concurrent sends reach the fake and are held too
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    fake.release()
    sent_before_kill = len(fake.requests)
    assert 0 < sent_before_kill < total
    # The provider reports on what it accepted (as Vonage's status webhooks would), naming our client_ref.
    with db.session_scope() as session:
        for n, request in enumerate(list(fake.requests)):
            report = DeliveryReport(
                provider="vonage-sms",
                provider_message_id=f"dlr-{n}",
                status="delivered",
                occurred_at=datetime.now(UTC),
                client_ref=request.form["client-ref"],
            )
            assert states.apply_delivery_report(session, report=report) is not None
    found = recovery.recover(get_redis(runtime), lease_seconds=0)
    assert found.requeued + found.adopted > 0
    restarted = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=Path(__file__).parents[2], timeout=120)
    assert restarted.returncode == 0
    calls = Counter(r.form["client-ref"] for r in fake.requests)
    assert sorted(calls) == sorted(f"relais-{i}" for i in ids)  # nothing lost
    assert max(calls.values()) == 1  # nothing sent twice
    final = Counter(s for s, _, _ in statuses(ids).values())
    assert final["sent"] + final["delivered"] == total
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
