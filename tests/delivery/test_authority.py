"""The outbound authority at the moment of action, with a controlled clock and past the 600 s lease.

Every test drives the real engine (Vonage SDK against the fake server, real Redis, real database)
and the real recovery sweep at chosen instants: a message planned for later stays queued through
recovery, a paused campaign sends nothing, resume re-plans windows, the throttle survives
recovery, an expired one-time code is never sent, a window that closes during a retry backoff
makes the message wait for the next opening.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from campaigns import flows as campaign_flows
from campaigns import service as campaign_service
from campaigns.models import Campaign
from channels.senders import create_sender
from conversations import flows
from conversations.models import Message
from core import db
from core.db import utcnow
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery
from delivery.policy import RetryPolicy
from tests.campaigns.factories import create_contact
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine, pause_and_resume, prepared_campaign

LEASE = timedelta(seconds=recovery.LEASE_SECONDS)
PAST_LEASE = LEASE + timedelta(minutes=1)
#: quiet hours 21:00-08:00 (France's own rule, closing at 20:00, is tested in tests/campaigns)
QUIET = {"quiet_start": "21:00", "quiet_end": "08:00", "respect_country_rules": False}
WEDNESDAY_NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Paris


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _rows(ids: list[int]) -> list[tuple[str, datetime | None, str, str]]:
    with db.session_scope() as session:
        rows = session.execute(select(Message.status, Message.not_before, Message.wait_reason, Message.wait_detail)
                               .where(Message.id.in_(ids)).order_by(Message.id)).all()
    return [(s, nb.replace(tzinfo=UTC) if nb else None, r, d) for s, nb, r, d in rows]


def _immediate_send_jobs() -> list[list[int]]:
    return [job.args[0] for job in get_queue("marketing").jobs if (job.func_name or "").endswith("send_messages")]


def _drop_jobs() -> None:
    """Redis lost every job (the case recovery exists for)."""
    queue = get_queue("marketing")
    queue.empty()
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)


def test_a_quiet_hours_message_stays_queued_through_recovery(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    evening = datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 22:30 in Paris
    _, ids = prepared_campaign(3, evening, **QUIET)
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Paris
    assert {row[1:3] for row in _rows(ids)} == {(morning, "quiet_hours")}
    _drop_jobs()
    clock = Clock(evening + PAST_LEASE)
    found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
    assert (found.reenqueued, found.held) == (0, 0)  # planned for 08:00: not an orphan tonight
    assert _immediate_send_jobs() == []
    assert make_engine(fake, runtime_any_db, clock=clock).send_batch(ids).sent == 0  # a stray job: not due
    assert fake.requests == [] and {row[0] for row in _rows(ids)} == {"queued"}
    clock.now = morning + PAST_LEASE  # the wake-up job was lost too: recovery sends them now
    assert recovery.recover(get_redis(runtime_any_db), now=clock.now).reenqueued == 3
    assert make_engine(fake, runtime_any_db, clock=clock).send_batch(ids).sent == 3


def test_a_window_that_closed_while_the_message_waited_holds_it_until_the_next_opening(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    before_closing = datetime(2026, 6, 10, 18, 50, tzinfo=UTC)  # 20:50 in Paris: open until 21:00
    _, ids = prepared_campaign(2, before_closing, **QUIET)
    assert {row[2] for row in _rows(ids)} == {""}  # due at once
    _drop_jobs()  # the send job never ran (a backlog, an outage, a lost job)
    late = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)  # 23:00 in Paris, past the lease
    found = recovery.recover(get_redis(runtime_any_db), now=late)
    assert (found.reenqueued, found.held) == (0, 2)
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    assert _rows(ids) == [("queued", morning, "quiet_hours", "quiet hours until Thu 08:00 Europe/Paris")] * 2
    assert _immediate_send_jobs() == []
    wakeups = ScheduledJobRegistry(queue=get_queue("marketing"))
    assert [wakeups.get_scheduled_time(j) for j in wakeups.get_job_ids()] == [morning]
    assert make_engine(fake, runtime_any_db, clock=Clock(late)).send_batch(ids).sent == 0
    assert fake.requests == []


def test_a_paused_campaign_sends_nothing_through_recovery_and_a_cancelled_one_is_rejected(
    fake: FakeVonage, runtime_any_db: Settings
) -> None:
    cid, ids = prepared_campaign(3, WEDNESDAY_NOON)
    with db.session_scope() as session:
        campaign_service.pause(session, session.get_one(Campaign, cid))
    _drop_jobs()
    clock = Clock(WEDNESDAY_NOON + PAST_LEASE)
    found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
    assert (found.reenqueued, found.held) == (0, 3)
    assert {row[2] for row in _rows(ids)} == {"paused"}
    clock.now += PAST_LEASE  # paused rows are not orphans: nothing to do
    assert recovery.recover(get_redis(runtime_any_db), now=clock.now).held == 0
    assert make_engine(fake, runtime_any_db, clock=clock).send_batch(ids).waiting == 3  # a stray job
    assert fake.requests == [] and {row[0] for row in _rows(ids)} == {"queued"}
    with db.session_scope() as session:
        session.get_one(Campaign, cid).status = "cancelled"  # as if cancelled while a job was in flight
    assert make_engine(fake, runtime_any_db, clock=clock).send_batch(ids).rejected == 3
    with db.session_scope() as session:
        codes = set(session.scalars(select(Message.error_code).where(Message.id.in_(ids))))
    assert codes == {"campaign_cancelled"} and fake.requests == []


def test_resume_recomputes_the_window(fake: FakeVonage, runtime: Settings) -> None:
    cid, ids = prepared_campaign(2, WEDNESDAY_NOON, **QUIET)
    with db.session_scope() as session:
        campaign_service.pause(session, session.get_one(Campaign, cid))
    _drop_jobs()
    night = datetime(2026, 6, 10, 20, 0, tzinfo=UTC)  # resumed at 22:00 in Paris
    with db.session_scope() as session:
        campaign = campaign_service.resume(session, session.get_one(Campaign, cid))
        campaign_flows.resume_work(session, campaign, now=night)
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    assert {row[:3] for row in _rows(ids)} == {("queued", morning, "quiet_hours")}
    assert _immediate_send_jobs() == []
    assert make_engine(fake, runtime, clock=Clock(night)).send_batch(ids).sent == 0
    assert make_engine(fake, runtime, clock=Clock(morning)).send_batch(ids).sent == 2


def test_resume_keeps_the_throttle(runtime: Settings) -> None:
    cid, ids = prepared_campaign(25, WEDNESDAY_NOON, throttle_per_minute=10)
    resumed = WEDNESDAY_NOON + timedelta(hours=2)
    pause_and_resume(cid, resumed)
    per_minute = Counter(row[1] for row in _rows(ids))
    assert per_minute == {resumed: 10, resumed + timedelta(minutes=1): 10, resumed + timedelta(minutes=2): 5}


def test_throttle_spacing_survives_recovery(fake: FakeVonage, runtime_any_db: Settings) -> None:
    _, ids = prepared_campaign(25, WEDNESDAY_NOON, throttle_per_minute=10)
    planned = Counter(row[1] for row in _rows(ids))
    assert sorted(planned.values()) == [5, 10, 10]
    _drop_jobs()  # every wake-up job lost; all 25 overdue by the time recovery runs
    clock = Clock(WEDNESDAY_NOON + timedelta(minutes=15))
    found = recovery.recover(get_redis(runtime_any_db), now=clock.now)
    assert (found.reenqueued, found.held) == (10, 15)
    sender = make_engine(fake, runtime_any_db, clock=clock)
    sent_per_minute = []
    for _ in range(3):
        before = len(fake.requests)
        sender.send_batch(ids)
        sender.send_batch(ids)  # a duplicate job in the same minute sends nothing more
        sent_per_minute.append(len(fake.requests) - before)
        clock.now += timedelta(minutes=1)
    assert sent_per_minute == [10, 10, 5]


def test_a_throttled_text_re_planned_by_recovery_says_its_wait_in_the_campaigns_zone(runtime: Settings) -> None:
    # the authority re-booked the throttle with "next slot 10:16 UTC" for a shop in Paris
    _, ids = prepared_campaign(25, WEDNESDAY_NOON, throttle_per_minute=10, timezone="Europe/Paris")
    _drop_jobs()
    recovery.recover(get_redis(runtime), now=WEDNESDAY_NOON + timedelta(minutes=15))
    details = {detail for status, _, reason, detail in _rows(ids) if reason == "throttled"}
    assert details and all(detail.endswith("Europe/Paris") for detail in details), details


def test_an_expired_one_time_code_is_never_sent(fake: FakeVonage, runtime: Settings) -> None:
    sent_at = utcnow()  # the rows' created_at is the real clock: recovery counts an orphan from it
    with db.session_scope() as session:
        contact = create_contact(session, 1)
        codes = [flows.queue_outbound(session, contact=contact, body=f"Your code: 12345{i}", lane="transactional",
                                      author_type="api", expires_at=sent_at + timedelta(minutes=5)).id
                 for i in range(2)]
    report = make_engine(fake, runtime, clock=Clock(sent_at + timedelta(minutes=6))).send_batch(codes[:1])
    assert (report.sent, report.rejected) == (0, 1)
    _drop_jobs()
    found = recovery.recover(get_redis(runtime), now=sent_at + PAST_LEASE)  # the other one's job was lost
    assert (found.reenqueued, found.rejected) == (0, 1)
    with db.session_scope() as session:
        rows = session.execute(select(Message.status, Message.error_code).where(Message.id.in_(codes))).all()
    assert rows == [("expired", "expired")] * 2 and fake.requests == []


def test_a_window_that_closes_during_a_retry_backoff_waits_for_the_next_opening(
    fake: FakeVonage, runtime: Settings
) -> None:
    almost_closing = datetime(2026, 6, 10, 18, 59, 30, tzinfo=UTC)  # 20:59:30 in Paris
    _, ids = prepared_campaign(1, almost_closing, **QUIET)
    clock = Clock(almost_closing)
    sender = make_engine(fake, runtime, clock=clock, retry=RetryPolicy(base_seconds=60))
    fake.fail_next(200, {"message-count": "1", "messages": [{"status": "5", "error-text": "Internal Error"}]})
    assert sender.send_batch(ids).retried == 1
    [(status, retry_at, reason, _)] = _rows(ids)
    assert status == "queued" and reason == "retry" and retry_at is not None
    clock.now = retry_at  # the backoff ends after 21:00 in Paris
    assert retry_at > datetime(2026, 6, 10, 19, 0, tzinfo=UTC)
    assert sender.send_batch(ids).waiting == 1
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    assert _rows(ids) == [("queued", morning, "quiet_hours", "quiet hours until Thu 08:00 Europe/Paris")]
    assert len(fake.requests) == 1  # only the failed attempt
    clock.now = morning
    assert sender.send_batch(ids).sent == 1


def test_the_issue_case_a_sunday_morning_campaign_in_paris_is_not_sent_eleven_minutes_later(
    fake: FakeVonage, runtime: Settings
) -> None:
    sunday = datetime(2026, 11, 29, 4, 55, tzinfo=UTC)  # 05:55 in Paris: quiet hours and France's Sunday rule
    _, ids = prepared_campaign(2, sunday, quiet_start="21:00", quiet_end="08:00", respect_country_rules=True)
    clock = Clock(sunday + timedelta(minutes=11))
    found = recovery.recover(get_redis(runtime), now=clock.now)
    assert found.reenqueued == 0 and _immediate_send_jobs() == []
    assert make_engine(fake, runtime, clock=clock).send_batch(ids).sent == 0
    monday = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert {row[1:3] for row in _rows(ids)} == {(monday, "country_rule")} and fake.requests == []


def test_the_frequency_cap_is_checked_again_at_send_time(fake: FakeVonage, runtime: Settings) -> None:
    _, ids = prepared_campaign(1, WEDNESDAY_NOON, frequency_cap=1)
    with db.session_scope() as session:  # meanwhile another send reached the contact
        contact_id = session.get_one(Message, ids[0]).contact_id
        session.add(Message(contact_id=contact_id, direction="out", body="flash", status="delivered",
                            lane="marketing", sent_at=WEDNESDAY_NOON, created_at=WEDNESDAY_NOON))
    report = make_engine(fake, runtime, clock=Clock(WEDNESDAY_NOON + timedelta(seconds=5))).send_batch(ids)
    assert (report.sent, report.rejected) == (0, 1)
    with db.session_scope() as session:
        assert session.get_one(Message, ids[0]).error_code == "frequency_cap"


def test_an_ad_hoc_marketing_text_keeps_the_default_window_in_the_recipients_zone(
    fake: FakeVonage, runtime: Settings
) -> None:
    night = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)  # 23:30 in Paris
    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        paris = create_contact(session, 1, timezone="Europe/Paris")
        no_zone = create_contact(session, 2, timezone=None, country="FR")
        ids = [flows.queue_outbound(session, contact=c, body="Promo du jour", lane="marketing", author_type="api").id
               for c in (paris, no_zone)]
        receipt = flows.queue_outbound(session, contact=paris, body="Your order shipped", lane="transactional",
                                       author_type="api").id
    report = make_engine(fake, runtime, clock=Clock(night)).send_batch([*ids, receipt])
    assert report.sent == 1  # the transactional text goes; marketing waits for 08:00 in Paris
    morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    assert {row[:3] for row in _rows(ids)} == {("queued", morning, "quiet_hours")}
    assert make_engine(fake, runtime, clock=Clock(morning)).send_batch(ids).sent == 2
