"""The engine's lanes share a batch: a free lane takes the next message, whatever the others wait on.

A campaign batch's wall time is its slowest lane's; with a fixed share per lane, a message held up
(a slow provider answer, a far limiter slot) kept its lane's later messages waiting behind it while
the other lanes had finished and sat idle, and the worker sent nothing until the batch was recorded.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from channels.base import OutboundMessage, SendResult
from channels.vonage import VonageChannel, VonageConfig
from core.redis import get_redis
from core.settings import Settings
from delivery import journal
from delivery.engine import DeliveryEngine
from delivery.limiter import Grant, RateLimiter
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import KEY, SECRET
from tests.delivery.test_engine import queue, statuses


class FirstWaitsForTheRest(VonageChannel):
    """The batch's first message is answered only once every other one has been (or after 5 s)."""

    def __init__(self, config: VonageConfig, *, others: int) -> None:
        super().__init__(config)
        self.first = ""
        self._others = others
        self._done = 0
        self._lock = threading.Lock()
        self.rest_sent = threading.Event()
        self.gave_up = False

    def send(self, *, message: OutboundMessage) -> SendResult:
        with self._lock:
            first = not self.first
            self.first = self.first or message.client_ref or ""
        if first:
            self.gave_up = not self.rest_sent.wait(5)
        result = super().send(message=message)
        if not first:
            with self._lock:
                self._done += 1
                if self._done == self._others:
                    self.rest_sent.set()
        return result


def test_a_held_up_message_does_not_hold_its_lanes_share(fake: FakeVonage, runtime: Settings) -> None:
    ids = queue(6)
    config = VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host)
    channel = FirstWaitsForTheRest(config, others=len(ids) - 1)
    engine = DeliveryEngine(channel=channel, client=get_redis(runtime), concurrency=2)
    try:
        assert engine.send_batch(ids).sent == 6
    finally:
        engine.close()
    # the other lane sent the five others while the first waited (with fixed shares, two of them
    # were queued behind it and the first gave up waiting after 5 s)
    assert not channel.gave_up
    assert {s for s, _, _ in statuses(ids).values()} == {"sent"}


def test_the_vonage_pool_has_a_connection_per_lane(runtime: Settings) -> None:
    settings = runtime.model_copy(update={"send_concurrency": 24, "vonage_api_key": KEY, "vonage_api_secret": SECRET})
    assert VonageConfig.from_settings(settings).pool_size == 24


def test_a_lane_reserves_its_slots_over_a_connection_of_its_own(
    fake: FakeVonage, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled client lends and takes back a connection per command (a third of a reservation's
    processor time): a lane keeps one connection for its reservations and journal entries."""
    ids = queue(12)
    client = get_redis(runtime)
    config = VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host)
    engine = DeliveryEngine(channel=VonageChannel(config), client=client, concurrency=2)
    lent = 0
    lend = client.connection_pool.get_connection

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal lent
        lent += 1
        return lend(*args, **kwargs)

    monkeypatch.setattr(client.connection_pool, "get_connection", counted)
    try:
        assert engine.send_batch(ids).sent == 12
    finally:
        engine.close()
    assert lent <= 2  # the batch's own commands (the journal's clean-up), none per send
    assert {s for s, _, _ in statuses(ids).values()} == {"sent"}


def test_a_lane_books_a_few_slots_per_redis_command_and_journals_every_send_before_the_record(
    fake: FakeVonage, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Redis round trip cost the worker and the server more than the script's own work: a lane books
    its next few messages' slots in one command (the others go to whichever lane is free), and every
    acceptance is still in the journal before the batch records its sends (recovery's proof of a send)."""
    ids = queue(40)
    client = get_redis(runtime)
    config = VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host)
    engine = DeliveryEngine(channel=VonageChannel(config), client=client, concurrency=3, reservations_per_call=4)
    calls: list[tuple[int, int]] = []  # (messages booked, journal entries written) per command
    reserve_soonest = RateLimiter.reserve_soonest

    def counted(self: RateLimiter, candidates: Any, **kwargs: Any) -> list[Grant | None]:
        grants = reserve_soonest(self, candidates, **kwargs)
        calls.append((sum(1 for g in grants if g is not None), len(kwargs.get("writes", ()))))
        return grants

    journalled: dict[int, SendResult] = {}
    forget = journal.forget

    def checked(redis_client: Any, message_ids: Any) -> None:
        journalled.update(journal.read(redis_client, list(message_ids)))
        forget(redis_client, message_ids)

    monkeypatch.setattr(RateLimiter, "reserve_soonest", counted)
    monkeypatch.setattr(journal, "forget", checked)
    try:
        assert engine.send_batch(ids).sent == 40
    finally:
        engine.close()
    assert sum(booked for booked, _ in calls) == 40  # every message booked once
    assert sum(written for _, written in calls) == 40  # every acceptance journalled once
    assert len(calls) <= 40 // 4 + 2 * 3  # ten groups of four, then at most two commands a lane for its entries
    assert set(journalled) == set(ids)
    assert {s for s, _, _ in statuses(ids).values()} == {"sent"}
    assert sorted(r.form["client-ref"] for r in fake.requests) == sorted(f"relais-{i}" for i in ids)


class Gated(VonageChannel):
    """Answers only once ``gate`` is open."""

    def __init__(self, config: VonageConfig) -> None:
        super().__init__(config)
        self.gate = threading.Event()

    def send(self, *, message: OutboundMessage) -> SendResult:
        assert self.gate.wait(10)
        return super().send(message=message)


def test_a_send_job_may_return_while_the_lanes_send_its_batch(fake: FakeVonage, runtime: Settings) -> None:
    """A worker's send job hands its batch to the engine's lanes and returns once they hold little enough:
    the worker claims its next batch meanwhile (the lanes sat idle during every claim and record before).
    The lanes then send and record the batch, and closing the engine waits for them."""
    ids = queue(20)
    config = VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host)
    channel = Gated(config)
    engine = DeliveryEngine(channel=channel, client=get_redis(runtime), concurrency=2, keep_ahead=18)
    try:
        report = engine.send_batch(ids, wait=False)  # returns once both lanes took one (18 left)
        assert report.claimed == 20 and report.sent == 0
        assert {s for s, _, _ in statuses(ids).values()} == {"sending"}
        channel.gate.set()
    finally:
        engine.close()
    assert {s for s, _, _ in statuses(ids).values()} == {"sent"}
    assert sorted(r.form["client-ref"] for r in fake.requests) == sorted(f"relais-{i}" for i in ids)


def test_messages_whose_slots_could_not_be_booked_are_retried_not_sent(
    fake: FakeVonage, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the limiter unreachable nothing may go to the provider: the messages offered are retried later,
    and the batch still ends (its job does not wait for Redis forever)."""
    ids = queue(6)
    reserve_soonest = RateLimiter.reserve_soonest
    failures = iter([True])

    def flaky(self: RateLimiter, candidates: Any, **kwargs: Any) -> list[Grant | None]:
        if candidates and next(failures, False):
            raise redis.ConnectionError("Redis is restarting")
        return reserve_soonest(self, candidates, **kwargs)

    monkeypatch.setattr(RateLimiter, "reserve_soonest", flaky)
    config = VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host)
    engine = DeliveryEngine(channel=VonageChannel(config), client=get_redis(runtime), concurrency=1,
                            reservations_per_call=4)
    try:
        report = engine.send_batch(ids)
    finally:
        engine.close()
    assert (report.sent, report.retried) == (2, 4)
    rows = statuses(ids)
    retried = [i for i in ids if rows[i][0] == "queued"]
    assert len(retried) == 4 and all(rows[i][2] == "retryable" for i in retried)
    assert sorted(r.form["client-ref"] for r in fake.requests) == sorted(
        f"relais-{i}" for i in ids if i not in retried)
