"""A pause, a cancel or a STOP committed while the sending lanes hold claimed messages holds them back.

The authority decides at the claim, and the lanes hold claimed messages for a while before the provider call
(a send job may return while they send its batch). The code committing the change writes a revocation marker
(:mod:`core.revocations`); the lanes' booking script refuses a message it names, the message goes back to
``queued`` and the authority decides again at the next claim. Each test opens the gap for real: a gated
provider keeps the lane busy with a first message while the change is committed, with the real engine (Vonage
SDK against the fake server), the real Redis and the real database, on a controlled clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from campaigns import flows as campaign_flows
from campaigns import service as campaign_service
from campaigns import tasks
from campaigns.models import Campaign
from channels.base import OutboundMessage, SendResult
from channels.senders import create_sender, set_account_rate
from channels.vonage import VonageChannel, VonageConfig
from contacts import consent
from contacts.models import Contact
from conversations import flows
from conversations.models import Message
from core import db, revocations
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery
from delivery.engine import DeliveryEngine
from delivery.lanes import BatchReport
from delivery.limiter import RateLimiter, account_bucket, sender_bucket
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import KEY, SECRET
from tests.delivery.test_authority import WEDNESDAY_NOON, Clock


class Gated(VonageChannel):
    """Says when the first send reached it (``entered``) and answers only once ``gate`` is open."""

    def __init__(self, config: VonageConfig) -> None:
        super().__init__(config)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def send(self, *, message: OutboundMessage) -> SendResult:
        self.entered.set()
        assert self.gate.wait(10)
        return super().send(message=message)


def _lanes(fake: FakeVonage, settings: Settings, clock: Clock) -> tuple[DeliveryEngine, Gated]:
    """One lane booking one message per command: the messages behind the gated first one stay in the lanes."""
    channel = Gated(VonageConfig(api_key=KEY, api_secret=SECRET, api_host=fake.host, rest_host=fake.host))
    engine = DeliveryEngine(channel=channel, client=get_redis(settings), concurrency=1, reservations_per_call=1,
                            candidates_per_call=1, keep_ahead=1000, clock=clock)
    return engine, channel


def _in_the_lanes(engine: DeliveryEngine, channel: Gated, ids: list[int]) -> None:
    """Hand ``ids`` to the lanes as a send job does, and return once the first is at the provider."""
    assert engine.send_batch(ids, wait=False).claimed == len(ids)
    assert channel.entered.wait(10)
    assert {status for status, _, _ in _rows(ids).values()} == {"sending"}


def _rest_after(fake: FakeVonage, settings: Settings, clock: Clock, ids: list[int],
                meanwhile: Callable[[], None]) -> BatchReport:
    """``ids`` in the lanes, the first at the provider; ``meanwhile`` happens (a cancel, the clock moving on); then
    the lanes go on and the rest are handed to a send job again: that batch's report."""
    engine, channel = _lanes(fake, settings, clock)
    try:
        _in_the_lanes(engine, channel, ids)
        meanwhile()
        channel.gate.set()
        engine.flush()
        return engine.send_batch(ids[1:])
    finally:
        channel.gate.set()
        engine.close()


def _campaigns(names: list[str], contacts: int, now: datetime) -> dict[str, tuple[int, list[int]]]:
    """Campaigns texting the same ``contacts`` Paris contacts, prepared at ``now``: name → (id, message ids)."""
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
        for i in range(contacts):
            create_contact(session, i, timezone="Europe/Paris")
        template = create_template(session, body="Promo")
        made = {}
        for name in names:
            campaign = create_campaign(session, template, name=name, frequency_cap=0)
            campaign_flows.start_run(session, campaign, now=now)
            made[name] = campaign.id
    found = {}
    for name, cid in made.items():
        assert tasks.prepare_campaign(cid, now=now) == contacts
        with db.session_scope() as session:
            found[name] = (cid, list(session.scalars(
                select(Message.id).where(Message.campaign_id == cid).order_by(Message.id))))
    return found


def _rows(ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """id → (status, wait reason, error code)."""
    with db.session_scope() as session:
        rows = session.execute(select(Message.id, Message.status, Message.wait_reason, Message.error_code)
                               .where(Message.id.in_(ids)))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _sent_refs(fake: FakeVonage) -> Counter[str]:
    return Counter(r.form["client-ref"] for r in fake.requests)


def test_a_campaign_paused_while_its_messages_sit_in_the_lanes_sends_none_of_them_and_resume_sends_each_once(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    clock = Clock(WEDNESDAY_NOON)
    (cid, ids), = _campaigns(["spring"], 5, clock.now).values()
    engine, channel = _lanes(fake, runtime_any_db, clock)
    client = get_redis(runtime_any_db)
    try:
        _in_the_lanes(engine, channel, ids)  # the first at the provider, four claimed behind it
        with db.session_scope() as session:
            campaign_service.pause(session, session.get_one(Campaign, cid))
        # the marker outlives any claim: past the recovery lease, recovery takes a claim back anyway
        assert client.ttl(revocations.campaign_key(cid)) > recovery.LEASE_SECONDS
        channel.gate.set()
        engine.flush()
        first, rest = ids[0], ids[1:]
        assert _sent_refs(fake) == {f"relais-{first}": 1}  # already at the provider when paused
        rows = _rows(ids)
        assert rows[first][0] == "sent"
        assert {rows[i][:2] for i in rest} == {("queued", "held")}
        with db.session_scope() as session:  # handed back: due now, the attempt not counted
            handed_back = session.execute(select(Message.not_before, Message.attempts).where(Message.id.in_(rest)))
            assert {(nb.replace(tzinfo=None), n) for nb, n in handed_back} == {(clock.now.replace(tzinfo=None), 0)}

        # a send job wakes the next claim up at once
        assert rest in [job.args[0] for job in get_queue("marketing").jobs]
        # the next claim: the authority, not the lane, holds them for the pause
        assert engine.send_batch(rest).waiting == 4
        assert {_rows(rest)[i][:2] for i in rest} == {("queued", "paused")}

        clock.now += timedelta(minutes=5)
        with db.session_scope() as session:
            campaign = campaign_service.resume(session, session.get_one(Campaign, cid))
            campaign_flows.resume_work(session, campaign, now=clock.now)
        assert not client.exists(revocations.campaign_key(cid))  # else it would hold them again
        assert engine.send_batch(rest).sent == 4
    finally:
        channel.gate.set()
        engine.close()
    assert _sent_refs(fake) == {f"relais-{i}": 1 for i in ids}  # each once, none twice
    assert {status for status, _, _ in _rows(ids).values()} == {"sent"}


def test_a_campaign_cancelled_while_its_messages_sit_in_the_lanes_sends_none_of_them(
    fake: FakeVonage, runtime: Settings
) -> None:
    clock = Clock(WEDNESDAY_NOON)
    (cid, ids), = _campaigns(["spring"], 3, clock.now).values()

    def cancel() -> None:
        with db.session_scope() as session:
            campaign_service.cancel(session, session.get_one(Campaign, cid))

    assert _rest_after(fake, runtime, clock, ids, cancel).rejected == 2
    assert _sent_refs(fake) == {f"relais-{ids[0]}": 1}
    rows = _rows(ids)
    assert {rows[i][::2] for i in ids[1:]} == {("rejected", "campaign_cancelled")}


def test_pausing_another_campaign_does_not_hold_this_ones_messages(fake: FakeVonage, runtime: Settings) -> None:
    clock = Clock(WEDNESDAY_NOON)
    made = _campaigns(["spring", "summer"], 4, clock.now)
    (_, ids), (other, _) = made["spring"], made["summer"]
    engine, channel = _lanes(fake, runtime, clock)
    try:
        _in_the_lanes(engine, channel, ids)
        with db.session_scope() as session:
            campaign_service.pause(session, session.get_one(Campaign, other))
        assert get_redis(runtime).exists(revocations.campaign_key(other))
        channel.gate.set()
        engine.flush()
    finally:
        channel.gate.set()
        engine.close()
    assert _sent_refs(fake) == {f"relais-{i}": 1 for i in ids}
    assert {status for status, _, _ in _rows(ids).values()} == {"sent"}


def test_a_stop_holds_the_contacts_messages_in_the_lanes_but_the_confirmation_and_others_go(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """After a STOP the authority refuses the contact's texts on every lane but an audited override (the STOP
    confirmation itself); the lanes hold the same ones, and another contact's text is not held."""
    clock = Clock(WEDNESDAY_NOON)
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
        stopping, other = create_contact(session, 1), create_contact(session, 2)
        first = flows.queue_outbound(session, contact=other, body="your order shipped", lane="transactional",
                                     author_type="api").id
        held = [flows.queue_outbound(session, contact=stopping, body=body, lane=lane, author_type="api").id
                for body, lane in (("your order shipped", "transactional"), ("new collection", "marketing"),
                                   ("an agent's answer", "conversational"))]
        confirmation = flows.queue_outbound(session, contact=stopping, body="you will get no more texts",
                                            lane="transactional", author_type="system", override_opt_out=True).id
        later = flows.queue_outbound(session, contact=other, body="delivered", lane="transactional",
                                     author_type="api").id
        stopping_id = stopping.id
    ids = [first, *held, confirmation, later]
    engine, channel = _lanes(fake, runtime_any_db, clock)
    try:
        _in_the_lanes(engine, channel, ids)
        with db.session_scope() as session:
            consent.record_opt_out(session, contact=session.get_one(Contact, stopping_id), source="keyword",
                                   proof="STOP")
        channel.gate.set()
        engine.flush()
        assert {_rows(held)[i][:2] for i in held} == {("queued", "held")}
        assert engine.send_batch(held).rejected == 3  # the authority's word at the next claim
    finally:
        channel.gate.set()
        engine.close()
    assert _sent_refs(fake) == {f"relais-{i}": 1 for i in (first, confirmation, later)}
    rows = _rows(ids)
    assert {rows[i][::2] for i in held} == {("rejected", "opted_out")}


def test_a_start_releases_the_contacts_marker(runtime: Settings) -> None:
    """A contact who texts STOP then START within the marker's life is texted again at once: were the marker
    left, the messages the authority lets go would bounce between the lanes and the queue until it expired."""
    client = get_redis(runtime)
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        contact_id = contact.id
    assert client.get(revocations.contact_key(contact_id)) == b"2"
    with db.session_scope() as session:
        consent.record_opt_in(session, contact=session.get_one(Contact, contact_id), source="keyword", proof="START")
    assert not client.exists(revocations.contact_key(contact_id))
    # a number on the suppression list stays held: an opt-in does not lift a suppression
    with db.session_scope() as session:
        contact = session.get_one(Contact, contact_id)
        consent.suppress_number(session, phone_e164=contact.phone or "", reason="complaint")
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
    with db.session_scope() as session:
        consent.record_opt_in(session, contact=session.get_one(Contact, contact_id), source="keyword", proof="START")
    assert client.get(revocations.contact_key(contact_id)) == b"3"


def test_a_marker_is_written_only_after_the_commit(runtime: Settings) -> None:
    """A pause rolled back holds nothing; one committed does (the database is the truth, the marker follows)."""
    client = get_redis(runtime)
    (cid, _), = _campaigns(["spring"], 1, WEDNESDAY_NOON).values()
    session = db.new_session()
    try:
        campaign_service.pause(session, session.get_one(Campaign, cid))
        assert not client.exists(revocations.campaign_key(cid))
        session.rollback()
    finally:
        session.close()
    assert not client.exists(revocations.campaign_key(cid))
    with db.session_scope() as session:
        campaign_service.pause(session, session.get_one(Campaign, cid))
    assert client.exists(revocations.campaign_key(cid))


def test_a_pause_stands_when_redis_cannot_take_the_marker(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    (cid, _), = _campaigns(["spring"], 1, WEDNESDAY_NOON).values()
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(revocations, "get_redis", lambda settings: unreachable)
    with db.session_scope() as session:
        campaign_service.pause(session, session.get_one(Campaign, cid))
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).status == "paused"
    assert not get_redis(runtime).exists(revocations.campaign_key(cid))


def test_the_booking_holds_what_a_marker_covers_and_books_nothing_for_it(runtime: Settings) -> None:
    """Levels: a declined marketing consent holds marketing only, a STOP every lane but an override, an
    erasure or a suppression everything; a held candidate takes no slot from the others."""
    client = get_redis(runtime)
    limiter = RateLimiter(client)
    buckets = (sender_bucket("+33600000001", 10), account_bucket("revocations", 10))
    client.set(revocations.contact_key(1), revocations.MARKETING)
    client.set(revocations.contact_key(2), revocations.OPTED_OUT)
    client.set(revocations.contact_key(3), revocations.EVERYTHING)
    client.set(revocations.campaign_key(7), revocations.CAMPAIGN)
    cases = [  # (contact, campaign, lane, override) → held?
        (1, None, "marketing", False, True), (1, None, "transactional", False, False),
        (2, None, "marketing", False, True), (2, None, "conversational", False, True),
        (2, None, "transactional", False, True), (2, None, "transactional", True, False),
        (3, None, "transactional", True, True), (4, 7, "marketing", False, True), (4, 8, "marketing", False, False),
    ]
    holds = [revocations.holds(campaign_id=campaign, contact_id=contact, lane=lane, override_opt_out=override)
             for contact, campaign, lane, override, _ in cases]
    grants = limiter.reserve_soonest([buckets] * len(cases), take=len(cases), max_wait=5, holds=holds)
    assert [g is not None and g.held for g in grants] == [held for *_, held in cases]
    booked = [g for g in grants if g is not None and not g.held]
    assert len(booked) == 3 and all(g.granted for g in booked)
    # the three booked took the first three slots, 100 ms apart: the six held booked none between them
    slots = sorted(g.slot_us for g in booked)
    assert slots[2] - slots[0] == 2 * buckets[0].interval_us
    assert client.zcard(buckets[0].key) == 3
