"""A provider that says "slow down" is obeyed: its account pauses in the shared limiter, no attempt is burnt.

Before, a 429 was an ordinary retryable error: that message backed off and counted an attempt (a few 429s and
it was ``dead`` although nothing was wrong with it), while the lanes kept firing the account's next messages
into the same wall at full rate. Driven against a loopback HTTPS server answering like Vonage (429 with
``Retry-After``, then 200), the real Redis limiter, SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime

from sqlalchemy import update

from channels.base import ChannelError
from channels.senders import create_sender, set_account_rate
from channels.smpp import submit_error
from channels.vonage import VonageChannel, VonageConfig, sms_api_error
from conversations.models import Message
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery
from delivery.engine import DeliveryEngine
from delivery.limiter import RateLimiter, account_bucket
from delivery.policy import RetryPolicy
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import KEY, SECRET
from tests.delivery.test_engine import queue

DEFAULT, OTHER = "+33612000000", "+33612000009"
TOO_MANY = {"type": "https://developer.vonage.com/api-errors#throttled", "title": "Rate Limit Hit",
            "detail": "Please wait, then retry your request"}


def waiting(ids: list[int]) -> dict[int, tuple[str, int, str, datetime | None]]:
    with db.session_scope() as session:
        rows = session.query(Message.id, Message.status, Message.attempts, Message.wait_reason, Message.not_before)
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows.filter(Message.id.in_(ids))}


def two_accounts(default: int, other: int) -> tuple[list[int], list[int]]:
    """``default`` messages from a sender of the account ``default``, ``other`` from one of the account ``other``."""
    ids = queue(default + other)
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address=OTHER, throughput=2000, provider_account="other")
        set_account_rate(session, name="other", throughput=2000)
        session.execute(update(Message).where(Message.id.in_(ids[:default])).values(sender=DEFAULT))
        session.execute(update(Message).where(Message.id.in_(ids[default:])).values(sender=OTHER))
    return ids[:default], ids[default:]


def sent_from(fake: FakeVonage, sender: str) -> list[str]:
    return [r.form["client-ref"] for r in fake.requests if r.form.get("from") == sender.lstrip("+")]


class Clock:
    """The engine's clock, moved by the test (the limiter's is Redis's own)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def engine_for(fake: FakeVonage, settings: Settings, clock: Callable[[], datetime], **options: float) -> DeliveryEngine:
    """One lane (the batch's messages go one after the other), one attempt allowed, the test's clock."""
    channel = VonageChannel(VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host))
    return DeliveryEngine(channel=channel, client=get_redis(settings), concurrency=1,
                          retry=RetryPolicy(max_attempts=1), clock=clock, **options)  # type: ignore[arg-type]


def test_a_429_pauses_its_account_for_the_wait_asked_and_burns_no_attempt(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    throttled_ids, other_ids = two_accounts(4, 2)
    clock = Clock()
    engine = engine_for(fake, runtime_any_db, clock)
    fake.fail_next(429, TOO_MANY, headers={"Retry-After": "3"})
    try:
        # one lane: the first message of the account meets the 429, the rest of the batch comes after it
        start = time.monotonic()
        report = engine.send_batch(throttled_ids + other_ids)
        # the other account's messages went; the throttled account's sent nothing after its 429
        assert len(sent_from(fake, OTHER)) == 2
        assert len(sent_from(fake, DEFAULT)) == 1
        rows = waiting(throttled_ids)
        # back to queued, due after the wait, no attempt counted (max_attempts=1: before, the 429 made it dead)
        assert {(s, a, r) for s, a, r, _ in rows.values()} == {("queued", 0, "provider_throttled")}
        assert report.throttled == 1 and report.deferred == 3 and report.dead == 0
        due = min(n for _, _, _, n in rows.values() if n is not None)
        assert due.replace(tzinfo=None) >= (clock.now + timedelta(seconds=3)).replace(tzinfo=None)
        # every worker's limiter holds the account, not the other one
        pauses = RateLimiter(get_redis(runtime_any_db)).pauses()
        assert 2 < pauses[account_bucket("default", 2000).key] <= 3
        assert account_bucket("other", 2000).key not in pauses

        # a recovery sweep and a send job during the pause (the engine's clock says due) release nothing early
        clock.now += timedelta(hours=1)
        recovery.recover(get_redis(runtime_any_db), now=clock.now)
        engine.send_batch(throttled_ids)
        assert len(sent_from(fake, DEFAULT)) == 1
        assert {s for s, _, _, _ in waiting(throttled_ids).values()} == {"queued"}

        # after the pause the account sends again, every message once, at one attempt each
        while time.monotonic() - start < 3.2:
            time.sleep(0.1)
        clock.now += timedelta(hours=1)
        assert engine.send_batch(throttled_ids).sent == 4
    finally:
        engine.close()
    assert time.monotonic() - start >= 3.0
    assert sorted(sent_from(fake, DEFAULT)[1:]) == sorted(f"relais-{i}" for i in throttled_ids)
    assert {(s, a) for s, a, _, _ in waiting(throttled_ids).values()} == {("sent", 1)}


def test_a_provider_asking_for_an_hour_is_paused_for_the_cap_and_says_so(
    fake: FakeVonage, runtime: Settings
) -> None:
    [message_id] = queue(1)
    in_an_hour = format_datetime(utcnow() + timedelta(hours=1), usegmt=True)
    fake.fail_next(429, TOO_MANY, headers={"Retry-After": in_an_hour})
    engine = engine_for(fake, runtime, Clock(), max_throttle_pause=1.0)
    try:
        engine.send_batch([message_id])
    finally:
        engine.close()
    pauses = RateLimiter(get_redis(runtime)).pauses()
    assert 0 < pauses[account_bucket("default", 2000).key] <= 1.0
    with db.session_scope() as session:
        row = session.get(Message, message_id)
        assert row is not None and row.wait_reason == "provider_throttled"
        assert "the provider asked to slow down: its account paused 1 s" in row.wait_detail


def test_every_provider_throttle_names_its_wait() -> None:
    """Vonage SMS API status 1 and SMPP throttling name no wait: a default one; other errors are no throttle."""
    assert getattr(sms_api_error("1", "Throughput Rate Exceeded"), "throttled_for", None) == 1.0
    assert sms_api_error("5").throttled_for is None
    assert submit_error(0x58).throttled_for == 1.0 and submit_error(0x14).throttled_for == 1.0
    assert submit_error(0x08).throttled_for is None and submit_error(0x08).retryable
    assert ChannelError("x", retryable=True).throttled_for is None
