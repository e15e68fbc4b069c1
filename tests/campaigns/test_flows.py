"""Run lifecycle: throttled planning, recurring runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from campaigns import flows, tasks
from campaigns.models import Campaign
from conversations.models import Message
from core import db
from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings
from tests.campaigns.factories import create_campaign, create_contact, create_template

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _scheduled_times() -> list[datetime]:
    registry = ScheduledJobRegistry(queue=get_queue("marketing"))
    return sorted(registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids())


def test_throttle_spaces_the_batches(runtime: Settings) -> None:
    with db.session_scope() as session:
        for i in range(25):
            create_contact(session, i, timezone="UTC")
        campaign = create_campaign(session, create_template(session, body="Hi"), throttle_per_minute=10)
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    assert tasks.prepare_campaign(cid, now=NOW) == 25
    # batches of 10 at +0 (released at once), +1 min and +2 min
    assert _scheduled_times() == [NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)]


def test_a_throttled_texts_wait_is_said_in_the_campaigns_zone(runtime: Settings) -> None:
    """The report's "Waiting to be sent" read "next slot 12:01 UTC" for a shop in Paris."""
    with db.session_scope() as session:
        for i in range(12):
            create_contact(session, i, timezone="UTC")
        campaign = create_campaign(session, create_template(session, body="Hi"), throttle_per_minute=10,
                                   timezone="Europe/Paris")
        flows.start_run(session, campaign, now=NOW)
        cid = campaign.id
    assert tasks.prepare_campaign(cid, now=NOW) == 12
    with db.session_scope() as session:
        details = set(session.scalars(select(Message.wait_detail).where(
            Message.campaign_id == cid, Message.wait_reason == "throttled")))
    assert details == {"throttled: campaign send rate, next slot Wed 14:01 Europe/Paris"}


def _weekly_campaign_after_its_first_run() -> int:
    """A weekly campaign (Wednesdays 10:00 Paris) whose first run, at NOW, was delivered and completed."""
    with db.session_scope() as session:
        create_contact(session, 1, timezone="UTC")
        campaign = create_campaign(session, create_template(session, body="Weekly news"),
                                   recurrence="0 10 * * 3", timezone="Europe/Paris")
        campaign.status, campaign.next_run_at, campaign.send_at = "scheduled", NOW, NOW
        cid = campaign.id
    tasks.sweep(now=NOW)
    tasks.prepare_campaign(cid, now=NOW)
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.campaign_id == cid).values(status="delivered"))
    tasks.sweep(now=NOW + timedelta(minutes=5))
    return cid


def test_recurring_campaign_is_rescheduled_after_each_run(runtime: Settings) -> None:
    cid = _weekly_campaign_after_its_first_run()
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert (campaign.status, campaign.run) == ("scheduled", 1)
        # next Wednesday 10:00 in Paris (08:00 UTC in summer)
        assert campaign.next_run_at is not None
        assert campaign.next_run_at.replace(tzinfo=UTC) == datetime(2026, 6, 17, 8, 0, tzinfo=UTC)
    tasks.sweep(now=datetime(2026, 6, 17, 8, 0, tzinfo=UTC))
    assert tasks.prepare_campaign(cid, now=datetime(2026, 6, 17, 8, 0, tzinfo=UTC)) == 1
    with db.session_scope() as session:
        assert len(session.scalars(select(Message.id).where(Message.campaign_id == cid)).all()) == 2


def test_a_recurring_campaign_paused_between_runs_resumes_its_schedule(runtime: Settings) -> None:
    from campaigns import service

    cid = _weekly_campaign_after_its_first_run()  # scheduled for next Wednesday
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        service.pause(session, campaign)
        service.resume(session, campaign)
        assert campaign.status == "scheduled"  # was "running" with no run under way: stuck for good
    next_run = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)
    tasks.sweep(now=next_run)
    assert tasks.prepare_campaign(cid, now=next_run) == 1
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).run == 2


def test_resume_keeps_a_planned_times_reason_and_words_a_new_one_in_the_recipients_zone(runtime: Settings) -> None:
    """A best-time text paused and resumed read "planned for Tue 12:00 UTC" instead of its reason."""
    from campaigns import service
    from tests.delivery.helpers import prepared_campaign
    from tests.delivery.test_authority import WEDNESDAY_NOON, _rows

    cid, ids = prepared_campaign(2, WEDNESDAY_NOON)
    evening = WEDNESDAY_NOON + timedelta(hours=7)  # 19:00 in Paris
    with db.session_scope() as session:
        session.execute(update(Message).where(Message.id == ids[0]).values(
            not_before=evening, wait_reason="scheduled",
            wait_detail="best time: 19:00 from the contact's own orders"))
        session.execute(update(Message).where(Message.id == ids[1]).values(
            not_before=evening, wait_reason="paused", wait_detail="the campaign is paused"))
        service.pause(session, session.get_one(Campaign, cid))
    with db.session_scope() as session:
        campaign = service.resume(session, session.get_one(Campaign, cid))
        flows.resume_work(session, campaign, now=WEDNESDAY_NOON + timedelta(hours=1))
    assert [row[1:] for row in _rows(ids)] == [
        (evening, "scheduled", "best time: 19:00 from the contact's own orders"),
        (evening, "scheduled", "planned for Wed 19:00 (Europe/Paris)"),
    ]


def _preparing_campaign(contacts: int) -> int:
    with db.session_scope() as session:
        for i in range(contacts):
            create_contact(session, i, timezone="UTC")
        campaign = create_campaign(session, create_template(session, body="Hi"))
        flows.start_run(session, campaign, now=NOW)
        return campaign.id


def _prepare_jobs() -> list[str]:
    return [job_id for job_id in get_queue("marketing").get_job_ids() if job_id.startswith("campaign-prepare")]


def test_the_sweep_requeues_a_preparation_whose_job_was_lost(runtime: Settings) -> None:
    """A campaign stayed 'preparing' for ever once its job was gone from Redis (a restart without
    persistence, an embedded server killed before it saved): nothing queued it again."""
    cid = _preparing_campaign(3)
    assert len(_prepare_jobs()) == 1
    get_redis(runtime).flushdb()  # Redis lost its data; the database still says 'preparing'
    tasks.sweep(now=NOW + timedelta(minutes=1))
    assert len(_prepare_jobs()) == 1
    tasks.sweep(now=NOW + timedelta(minutes=2))  # a job waiting is not queued twice
    assert len(_prepare_jobs()) == 1
    assert tasks.prepare_campaign(cid, now=NOW) == 3
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).status == "running"


def test_the_sweep_leaves_a_failed_preparation_to_its_operator(runtime: Settings) -> None:
    cid = _preparing_campaign(1)
    job = Job.fetch(_prepare_jobs()[0], connection=get_redis(runtime))
    get_queue("marketing").remove(job.id)
    job.set_status(JobStatus.FAILED)  # retries exhausted: it is on the failed-jobs page
    tasks.sweep(now=NOW + timedelta(minutes=1))
    assert _prepare_jobs() == []
    with db.session_scope() as session:
        assert session.get_one(Campaign, cid).status == "preparing"
