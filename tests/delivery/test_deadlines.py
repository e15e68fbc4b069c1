"""A message claimed while it may go is not sent once that has lapsed while it waited in the sending lanes.

The authority decides at the claim; the lanes then hold a claimed message until a lane is free and its slot
comes, which behind a slow provider (10 s per call, hundreds claimed) is minutes. A campaign text claimed at
20:59:30 went at 21:00:05, inside quiet hours; a one-time code claimed before its expiry went after it; a
claim that waited past recovery's lease was sent again by recovery and then by its first lane. The authority's
go now has a deadline (the window's close, the expiry) and the claim one of its own, and the lanes compare the
engine's clock with it right before the provider call. Each test opens the gap for real: a gated provider keeps
the one lane busy with a first message while the clock moves (the real engine, the Vonage SDK against the fake
server, the real Redis and database).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from campaigns import flows as campaign_flows
from campaigns import tasks
from channels.senders import create_sender, set_account_rate
from contacts.models import Contact
from conversations import flows
from conversations.models import Message
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery
from delivery.engine import LATE
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine
from tests.delivery.test_authority import QUIET, Clock
from tests.delivery.test_revocations import _in_the_lanes, _lanes, _rest_after

#: Wednesday 10 June 2026, 20:59:30 in Paris: quiet hours (21:00-08:00) begin in 30 s
BEFORE_QUIET = datetime(2026, 6, 10, 18, 59, 30, tzinfo=UTC)
THURSDAY_EIGHT = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Paris


def _rows(ids: list[int]) -> dict[int, tuple[str, str, str, datetime | None]]:
    """id → (status, wait reason, wait detail, not_before)."""
    with db.session_scope() as session:
        rows = session.execute(select(Message.id, Message.status, Message.wait_reason, Message.wait_detail,
                                      Message.not_before).where(Message.id.in_(ids)))
        return {i: (s, r, d, nb.replace(tzinfo=UTC) if nb else None) for i, s, r, d, nb in rows}


def _sent(fake: FakeVonage) -> Counter[str]:
    return Counter(r.form["client-ref"] for r in fake.requests)


def _contacts(count: int) -> list[int]:
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
        return [create_contact(session, i, timezone="Europe/Paris").id for i in range(count)]


def test_a_campaign_text_claimed_before_quiet_hours_is_not_sent_in_them_but_at_eight(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    clock = Clock(BEFORE_QUIET)
    _contacts(3)
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session, body="Promo"), **QUIET)
        campaign_flows.start_run(session, campaign, now=clock.now)
        cid = campaign.id
    assert tasks.prepare_campaign(cid, now=clock.now) == 3
    with db.session_scope() as session:
        ids = list(session.scalars(select(Message.id).where(Message.campaign_id == cid).order_by(Message.id)))
    engine, channel = _lanes(fake, runtime_any_db, clock)
    try:
        _in_the_lanes(engine, channel, ids)  # claimed at 20:59:30, the first at the provider
        clock.now = BEFORE_QUIET + timedelta(seconds=35)  # 21:00:05: the provider answers only now
        channel.gate.set()
        engine.flush()
        first, rest = ids[0], ids[1:]
        assert _sent(fake) == {f"relais-{first}": 1}  # it was at the provider before 21:00
        assert {_rows(rest)[i][:3] for i in rest} == {("queued", "held", LATE)}
        # the next claim: the authority holds them for the window, not the lane
        assert engine.send_batch(rest).waiting == 2
        assert {(s, r, nb) for s, r, _, nb in _rows(rest).values()} == {("queued", "quiet_hours", THURSDAY_EIGHT)}
        # no sweep sends them in the night
        found = recovery.recover(get_redis(runtime_any_db), now=BEFORE_QUIET + timedelta(hours=2))
        assert found.reenqueued == 0
        assert engine.send_batch(rest).claimed == 0
        clock.now = THURSDAY_EIGHT
        assert engine.send_batch(rest).sent == 2
    finally:
        channel.gate.set()
        engine.close()
    assert _sent(fake) == {f"relais-{i}": 1 for i in ids}


def test_a_one_time_code_that_expires_while_it_waits_in_the_lanes_is_never_sent(
    fake: FakeVonage, runtime: Settings
) -> None:
    clock = Clock(utcnow())  # queue_outbound refuses an expiry already past on the real clock
    [contact_id, *_] = _contacts(1)
    with db.session_scope() as session:
        contact = session.get_one(Contact, contact_id)
        ids = [flows.queue_outbound(session, contact=contact, body=f"Your code: 12345{i}", lane="transactional",
                                    author_type="api", expires_at=clock.now + timedelta(seconds=30)).id
               for i in range(3)]

    def expire() -> None:
        clock.now += timedelta(seconds=31)

    assert _rest_after(fake, runtime, clock, ids, expire).rejected == 2
    assert _sent(fake) == {f"relais-{ids[0]}": 1}
    assert {_rows(ids)[i][0] for i in ids[1:]} == {"expired"}


def test_a_claim_that_outlived_the_lease_in_the_lanes_is_not_sent_again_after_recovery_sent_it(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """The first message stands for a provider call in flight; its own fate is the provider's (a real call times
    out after 10 s, long before the lease). The others waited in the lanes behind it."""
    clock = Clock(utcnow())
    contact_ids = _contacts(3)
    with db.session_scope() as session:
        ids = [flows.queue_outbound(session, contact=session.get_one(Contact, c), body="Your parcel is on its way",
                                    lane="transactional", author_type="api").id for c in contact_ids]
    first, rest = ids[0], ids[1:]
    engine, channel = _lanes(fake, runtime_any_db, clock)
    other = make_engine(fake, runtime_any_db, clock=clock)
    try:
        _in_the_lanes(engine, channel, ids)
        clock.now += timedelta(seconds=recovery.LEASE_SECONDS + 60)
        found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
        assert found.requeued == 3  # the journal has none of them: the provider never took them
        assert other.send_batch(rest).sent == 2  # another worker's send job sends them
        channel.gate.set()
        engine.flush()
    finally:
        channel.gate.set()
        engine.close()
        other.close()
    assert {ref: n for ref, n in _sent(fake).items() if ref != f"relais-{first}"} == {f"relais-{i}": 1 for i in rest}
    # the first lane's late outcome did not undo the other worker's record
    assert {_rows(rest)[i][0] for i in rest} == {"sent"}
