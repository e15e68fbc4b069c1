"""A frequency cap of 1 holds when another campaign's text to the same contact is claimed at the same time.

Preparation counts every campaign's queued texts under one lock, so two campaigns text one contact only while
the caps allow: "Flash" (at most 1 marketing text in 7 days) prepared first, then "Weekly" (3 in 7 days) beside
it, both queue a text for each contact. Flash's text may then go only if no other marketing text went first.
The authority counted only the texts already recorded sent: Weekly's texts claimed by another batch and not yet
recorded (in its claim's transaction, in the sending lanes, at a worker that died) did not count, so Flash's
went too, and the contact got two marketing texts, one from a campaign that allows one in the week. Now the texts
in flight count (Flash's waits for them: refused once they are sent, free to go if they are handed back), and a
send job decides and claims under a lock per contact. Each test plays the gap for real, with the engine (the
Vonage SDK against the fake server), the real Redis and database, on a controlled clock, and goes on past the
timers that decide again: the re-check, a recovery sweep, a restart, a provider's retry, a claim's lease.
"""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from campaigns import flows as campaign_flows
from campaigns import tasks
from campaigns.models import Campaign
from channels.senders import create_sender, set_account_rate
from conversations.models import Message
from core import db
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from delivery import authority, recovery, store
from delivery.engine import CLAIM_GOOD_FOR
from delivery.lanes import BatchReport
from delivery.policy import RetryPolicy
from tests.campaigns.factories import create_campaign, create_contact, create_template
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine
from tests.delivery.test_authority import PAST_LEASE, WEDNESDAY_NOON, Clock, _drop_jobs, _immediate_send_jobs
from tests.delivery.test_revocations import _in_the_lanes, _lanes

NOW = WEDNESDAY_NOON
RECHECK = authority.CAP_RECHECK


def _overlapping(contacts: int) -> tuple[list[int], list[int]]:
    """Flash (1 in 7 days) and then Weekly (3 in 7 days) prepared for the same Paris contacts at ``NOW``:
    (Weekly's message ids, Flash's), in contact order."""
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
        for i in range(contacts):
            create_contact(session, i, timezone="Europe/Paris")
        template = create_template(session, body="Promo")
        made = []
        for name, cap in (("flash", 1), ("weekly", 3)):
            campaign = create_campaign(session, template, name=name, frequency_cap=cap, frequency_days=7)
            campaign_flows.start_run(session, campaign, now=NOW)
            made.append(campaign.id)
    ids = []
    for cid in made:
        assert tasks.prepare_campaign(cid, now=NOW) == contacts  # Weekly counts Flash's queued text: 1 of 3
        with db.session_scope() as session:
            ids.append(list(session.scalars(select(Message.id).where(Message.campaign_id == cid)
                                            .order_by(Message.contact_id))))
    flash, weekly = ids
    return weekly, flash


def _texts(fake: FakeVonage) -> dict[str, list[int]]:
    """Each phone's texts at the provider, in the order they arrived (message ids)."""
    got: dict[str, list[int]] = {}
    for request in fake.requests:
        got.setdefault(request.form["to"], []).append(int(request.form["client-ref"].removeprefix("relais-")))
    return got


def _states(ids: list[int]) -> set[tuple[str, str]]:
    """(status, wait reason) of the queued among ``ids``, (status, error code) of the others."""
    with db.session_scope() as session:
        rows = session.execute(select(Message.status, Message.wait_reason, Message.error_code)
                               .where(Message.id.in_(ids)))
        return {(status, reason if status == "queued" else code) for status, reason, code in rows}


def _only_weekly(fake: FakeVonage, weekly: list[int], flash: list[int]) -> None:
    """Every contact got Weekly's text once and Flash's never: refused by its cap of 1 (and no longer said to wait:
    the closed rows kept the wait reason of their last wait)."""
    assert sorted(_texts(fake).values()) == [[i] for i in weekly]
    assert _states(flash) == {("rejected", "frequency_cap")}
    with db.session_scope() as session:
        waits = set(session.execute(select(Message.wait_reason, Message.wait_detail).where(Message.id.in_(flash))))
    assert waits == {("", "")}


def test_two_batches_claimed_at_once_give_a_contact_capped_at_one_one_text(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """Two workers' send jobs: Weekly's claim is about to commit when Flash's batch is claimed. (Weekly's lanes
    keep its texts in flight until Flash's claim is decided: on SQLite it waits for Weekly's commit.)"""
    weekly, flash = _overlapping(3)
    clock = Clock(NOW)
    first, channel = _lanes(fake, runtime_any_db, clock)
    second = make_engine(fake, runtime_any_db, clock=clock)
    at_commit, second_done = threading.Event(), threading.Event()
    reports: dict[str, BatchReport] = {}

    def weekly_job() -> None:
        reports["weekly"] = first.send_batch(weekly, wait=False)

    def flash_job() -> None:
        try:
            reports["flash"] = second.send_batch(flash)
        finally:
            second_done.set()

    weekly_worker = threading.Thread(target=weekly_job)

    def hold_weekly_claim(session: Session) -> None:
        """Weekly's claim transaction waits before its commit while Flash's is claimed (as far as it can go)."""
        if threading.current_thread() is weekly_worker and not at_commit.is_set():
            at_commit.set()
            second_done.wait(3)

    event.listen(Session, "before_commit", hold_weekly_claim)
    flash_worker = threading.Thread(target=flash_job)
    try:
        weekly_worker.start()
        assert at_commit.wait(10)
        flash_worker.start()
        weekly_worker.join(20)
        flash_worker.join(20)
        assert reports["weekly"].claimed == 3
        assert reports["flash"].waiting == 3  # Weekly's claims are in flight: Flash's texts wait for them
        assert _states(flash) == {("queued", "frequency_cap")}
        channel.gate.set()
        first.flush()
        clock.now += RECHECK  # their wake-up: Weekly's texts are sent now
        assert second.send_batch(flash).rejected == 3
    finally:
        event.remove(Session, "before_commit", hold_weekly_claim)
        channel.gate.set()
        first.close()
        second.close()
    _only_weekly(fake, weekly, flash)


def test_texts_waiting_in_the_sending_lanes_count_against_another_campaigns_cap(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    weekly, flash = _overlapping(3)
    clock = Clock(NOW)
    engine, channel = _lanes(fake, runtime_any_db, clock)
    other = make_engine(fake, runtime_any_db, clock=clock)
    try:
        _in_the_lanes(engine, channel, weekly)  # the first at the provider, two claimed behind it
        assert other.send_batch(flash).waiting == 3
        channel.gate.set()
        engine.flush()
        clock.now += RECHECK
        assert other.send_batch(flash).rejected == 3
    finally:
        channel.gate.set()
        engine.close()
        other.close()
    _only_weekly(fake, weekly, flash)


@pytest.mark.parametrize("owner", ["gone", ""], ids=["worker-gone", "lease"])
def test_a_claim_left_by_a_dead_worker_holds_the_cap_until_recovery_and_a_restart_send_it(
    fake: FakeVonage, runtime_any_db: Settings, owner: str
) -> None:
    """A worker killed after its claim committed: its claims count until recovery takes them back (at once when
    the named worker's registration is gone, else after the lease); the restarted worker sends them."""
    weekly, flash = _overlapping(2)
    clock = Clock(NOW)
    with db.session_scope() as session:  # the dead worker's send job got this far
        store.claim(session, weekly, now=NOW, owner=owner)
    _drop_jobs()  # the preparation's send jobs: the ones this test runs are the recovery's
    engine = make_engine(fake, runtime_any_db, clock=clock)
    swept = NOW + (timedelta(seconds=recovery.OWNER_GRACE_SECONDS + 60) if owner else PAST_LEASE)
    try:
        while clock.now < swept:  # Flash's wake-ups, every 30 s: nothing knows yet that the worker died
            assert engine.send_batch(flash).waiting == 2
            clock.now += RECHECK
        found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
        assert found.requeued == 2
        jobs = _immediate_send_jobs()
        assert sorted(i for job in jobs for i in job) == weekly
        for job in jobs:
            assert engine.send_batch(job).sent == 2  # the restarted worker
        assert engine.send_batch(flash).rejected == 2
    finally:
        engine.close()
    _only_weekly(fake, weekly, flash)


def test_one_recovered_batch_holding_both_campaigns_texts_sends_a_contact_one(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """Redis lost the send jobs; recovery hands the orphans of both campaigns to send jobs. Weekly's texts were
    prepared two days before Flash's (and held since), so Flash, capped at 1 a day, did not count them."""
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        for i in range(2):
            create_contact(session, i, timezone="Europe/Paris")
        template = create_template(session, body="Promo")
        weekly_campaign = create_campaign(session, template, name="weekly", frequency_cap=3)
        flash_campaign = create_campaign(session, template, name="flash", frequency_cap=1, frequency_days=1)
        campaign_flows.start_run(session, weekly_campaign, now=NOW - timedelta(days=2))
        weekly_id, flash_id = weekly_campaign.id, flash_campaign.id
    assert tasks.prepare_campaign(weekly_id, now=NOW - timedelta(days=2)) == 2
    with db.session_scope() as session:  # (created_at is the real clock's)
        session.execute(update(Message).values(created_at=NOW - timedelta(days=2)))
        campaign_flows.start_run(session, session.get_one(Campaign, flash_id), now=NOW)
    assert tasks.prepare_campaign(flash_id, now=NOW) == 2
    with db.session_scope() as session:  # all due now (Weekly's held since: a pause, say)
        session.execute(update(Message).values(not_before=NOW))
        weekly, flash = ([i for i, c in session.execute(select(Message.id, Message.campaign_id)
                                                        .order_by(Message.id)) if c == cid]
                         for cid in (weekly_id, flash_id))
    _drop_jobs()
    clock = Clock(NOW + PAST_LEASE)
    engine = make_engine(fake, runtime_any_db, clock=clock)
    try:
        found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
        assert (found.reenqueued, found.held) == (2, 2)  # one batch would have claimed all four
        for job in _immediate_send_jobs():
            assert engine.send_batch(job).sent == 2
        clock.now += RECHECK
        assert engine.send_batch(flash).rejected == 2
    finally:
        engine.close()
    _only_weekly(fake, weekly, flash)


def test_a_text_retried_after_a_provider_error_is_decided_again_against_the_cap(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """Flash's call fails (retryable); Weekly's text goes meanwhile; Flash's retry finds the cap full."""
    weekly, flash = _overlapping(1)
    clock = Clock(NOW)
    engine = make_engine(fake, runtime_any_db, clock=clock, retry=RetryPolicy(base_seconds=1))
    try:
        fake.fail_next(200, {"message-count": "1", "messages": [{"status": "5", "error-text": "Internal Error"}]})
        assert engine.send_batch(flash).retried == 1
        assert engine.send_batch(weekly).sent == 1
        clock.now += timedelta(minutes=5)
        assert engine.send_batch(flash).rejected == 1
    finally:
        engine.close()
    texts = _texts(fake)
    assert [len(got) for got in texts.values()] == [2]  # Flash's failed call, then Weekly's text
    assert _states(weekly) == {("sent", "")} and _states(flash) == {("rejected", "frequency_cap")}


def test_a_claim_handed_back_at_its_lease_frees_the_cap_for_the_text_that_waited(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """Weekly's texts outlive their claim in the lanes (CLAIM_GOOD_FOR) and go back to queued: Flash's text, which
    waited for them, may go then; Weekly's, claimed again, go after it (3 a week allows a second)."""
    weekly, flash = _overlapping(3)
    clock = Clock(NOW)
    engine, channel = _lanes(fake, runtime_any_db, clock)
    other = make_engine(fake, runtime_any_db, clock=clock)
    try:
        _in_the_lanes(engine, channel, weekly)
        assert other.send_batch(flash).waiting == 3
        clock.now += CLAIM_GOOD_FOR + timedelta(seconds=1)
        channel.gate.set()
        engine.flush()  # the first was at the provider; the two behind it are handed back
        report = other.send_batch(flash)
        assert (report.sent, report.rejected) == (2, 1)
        assert other.send_batch(weekly[1:]).sent == 2
    finally:
        channel.gate.set()
        engine.close()
        other.close()
    # no contact got Flash's text after another marketing text
    assert sorted(_texts(fake).values()) == sorted([[weekly[0]], [flash[1], weekly[1]], [flash[2], weekly[2]]])


def test_a_flash_text_claimed_first_lets_the_weekly_one_go_after_it(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """The cap is each campaign's own: Weekly allows 3 a week, so Flash's text in flight does not hold it."""
    weekly, flash = _overlapping(2)
    clock = Clock(NOW)
    engine, channel = _lanes(fake, runtime_any_db, clock)
    other = make_engine(fake, runtime_any_db, clock=clock)
    try:
        _in_the_lanes(engine, channel, flash)
        assert other.send_batch(weekly).sent == 2
        channel.gate.set()
        engine.flush()
    finally:
        channel.gate.set()
        engine.close()
        other.close()
    assert _states(flash) == {("sent", "")} and _states(weekly) == {("sent", "")}


def test_a_send_job_locks_only_its_capped_contacts_in_one_statement(fake: FakeVonage, runtime_any_db: Settings) -> None:
    _, flash = _overlapping(3)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine(), "before_cursor_execute", seen)
    engine = make_engine(fake, runtime_any_db, clock=Clock(NOW))
    try:
        assert engine.send_batch(flash).sent == 3
    finally:
        event.remove(db.engine(), "before_cursor_execute", seen)
        engine.close()
    locks = [s for s in statements if "pg_advisory_xact_lock" in s]
    assert len(locks) == (1 if db.engine().dialect.name == "postgresql" else 0)


def test_two_late_batches_of_a_throttled_campaign_claimed_at_once_keep_its_rate(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    """A backlog carried a campaign at 5 a minute three minutes late; two workers claim its two batches at once.
    Each re-books its late texts in the campaign's calendar: the second must see the first's bookings."""
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        for i in range(10):
            create_contact(session, i, timezone="Europe/Paris")
        campaign = create_campaign(session, create_template(session, body="Promo"), throttle_per_minute=5)
        campaign_flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    assert tasks.prepare_campaign(cid, now=NOW) == 10
    with db.session_scope() as session:
        planned = list(session.execute(select(Message.id, Message.not_before).where(Message.campaign_id == cid)
                                       .order_by(Message.id)))
    batches = [[i for i, at in planned if at == minute] for minute in sorted({at for _, at in planned})]
    assert [len(b) for b in batches] == [5, 5]
    clock = Clock(NOW + timedelta(minutes=3))
    first, second = make_engine(fake, runtime_any_db, clock=clock), make_engine(fake, runtime_any_db, clock=clock)
    at_commit, second_done = threading.Event(), threading.Event()
    reports: dict[str, BatchReport] = {}

    def second_job() -> None:
        try:
            reports["second"] = second.send_batch(batches[1])
        finally:
            second_done.set()

    first_worker = threading.Thread(target=lambda: reports.setdefault("first", first.send_batch(batches[0])))

    def hold_first_claim(session: Session) -> None:
        if threading.current_thread() is first_worker and not at_commit.is_set():
            at_commit.set()
            second_done.wait(3)

    event.listen(Session, "before_commit", hold_first_claim)
    second_worker = threading.Thread(target=second_job)
    try:
        first_worker.start()
        assert at_commit.wait(10)
        second_worker.start()
        first_worker.join(20)
        second_worker.join(20)
    finally:
        event.remove(Session, "before_commit", hold_first_claim)
        first.close()
        second.close()
    assert (reports["first"].sent, reports["second"].sent, reports["second"].waiting) == (5, 0, 5)
    with db.session_scope() as session:
        later = set(session.execute(select(Message.status, Message.wait_reason, Message.not_before)
                                    .where(Message.id.in_(batches[1]))))
    assert {(status, reason, at.replace(tzinfo=UTC)) for status, reason, at in later} == {
        ("queued", "throttled", NOW + timedelta(minutes=4))}


def test_the_wake_up_of_a_waiting_text_is_never_scheduled_before_it_is_due(
    fake: FakeVonage, runtime: Settings
) -> None:
    """RQ keeps a job's time in whole seconds, cut down: the wake-up of a text due at 10:00:30.5 ran at 10:00:30,
    found it not yet due, and nothing woke it before the recovery sweep, ten minutes later. Seen as a user: 40
    texts of a campaign waiting for another's in flight stayed queued past their re-check."""
    weekly, flash = _overlapping(2)
    clock = Clock(NOW + timedelta(microseconds=500_000))
    engine, channel = _lanes(fake, runtime, clock)
    other = make_engine(fake, runtime, clock=clock)
    try:
        _in_the_lanes(engine, channel, weekly)
        assert other.send_batch(flash).waiting == 2  # a cap wait: due again at 10:00:30.5
        fake.fail_next(200, {"message-count": "1", "messages": [{"status": "5", "error-text": "Internal Error"}]})
        channel.gate.set()
        engine.flush()  # Weekly's first text fails: a retry due at a fraction of a second
    finally:
        channel.gate.set()
        engine.close()
        other.close()
    queue = get_queue("marketing")
    registry = ScheduledJobRegistry(queue=queue)
    with db.session_scope() as session:
        due = {i: at.replace(tzinfo=UTC) for i, at in session.execute(
            select(Message.id, Message.not_before).where(Message.status == "queued"))}
    assert sorted(due) == sorted([*flash, weekly[0]])  # Flash's two, and Weekly's first to retry
    woken: set[int] = set()
    for job_id in registry.get_job_ids():
        job = queue.fetch_job(job_id)
        assert job is not None
        ids = [i for i in job.args[0] if i in due]
        at = registry.get_scheduled_time(job_id).replace(tzinfo=UTC)
        assert all(due[i] <= at for i in ids), (job_id, at, [due[i] for i in ids])
        woken.update(ids)
    assert woken == set(due)
