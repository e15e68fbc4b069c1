"""A resumed campaign's texts go at their new planned times, woken by their own jobs, not by the recovery sweep.

Resume re-plans every queued text (windows and throttle from the moment of resuming) and registers wake-up jobs
for the new times. Their ids were the preparation's (``send:<first>:<last>:<n>``), so while the preparation's
wake-up for the old time still waited in Redis the new one was refused as a duplicate: the old job woke the
engine before the new time, claimed nothing, and the texts waited for the recovery sweep, 10 minutes past
their time (seen walking the service: a throttled campaign paused for two minutes). Here a worker runs each job
at its time with the real engine (Vonage SDK against the fake server, the real Redis and database).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from campaigns.scheduling import aware
from conversations.models import Message
from core import db
from core.queue import get_queue
from core.settings import Settings
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.helpers import make_engine, pause_and_resume, prepared_campaign
from tests.delivery.test_authority import WEDNESDAY_NOON, Clock


def _send_jobs_due(until: datetime, now: datetime) -> list[tuple[datetime, int, list[int]]]:
    """(when it runs, order, message ids) of every send job waiting in Redis, the immediate ones at ``now``."""
    queue = get_queue("marketing")
    registry = ScheduledJobRegistry(queue=queue)
    found = [(now, job.id, job) for job in queue.jobs]
    for job_id in registry.get_job_ids():
        job = queue.fetch_job(job_id)
        if job is not None:
            found.append((registry.get_scheduled_time(job_id).replace(tzinfo=now.tzinfo), job_id, job))
    due = [(max(at, now), i, job) for i, (at, _, job) in enumerate(found)
           if (job.func_name or "").endswith("send_messages") and at <= until]
    for _, _, job in due:
        job.delete()
    return sorted((at, i, list(job.args[0])) for at, i, job in due)


def test_a_resumed_throttled_campaign_sends_at_its_new_times_without_the_recovery_sweep(
    fake: FakeVonage, runtime: Settings
) -> None:
    cid, ids = prepared_campaign(25, WEDNESDAY_NOON, throttle_per_minute=10)  # 10 now, 10 at +1 min, 5 at +2 min
    resumed = WEDNESDAY_NOON + timedelta(seconds=90)
    pause_and_resume(cid, resumed)
    with db.session_scope() as session:
        planned = Counter(aware(nb) for nb, in session.execute(select(Message.not_before).where(Message.id.in_(ids))))
    assert planned == {resumed: 10, WEDNESDAY_NOON + timedelta(minutes=2): 10, WEDNESDAY_NOON + timedelta(minutes=3): 5}
    clock = Clock(resumed)
    engine = make_engine(fake, runtime, clock=clock)
    sent_at: Counter[datetime] = Counter()
    try:
        now = resumed
        while jobs := _send_jobs_due(WEDNESDAY_NOON + timedelta(minutes=5), now):  # a worker, job by job
            for at, _, message_ids in jobs:
                clock.now = now = at
                sent_at[at] += engine.send_batch(message_ids).sent
    finally:
        engine.close()
    assert +sent_at == {resumed: 10, WEDNESDAY_NOON + timedelta(minutes=2): 10,
                        WEDNESDAY_NOON + timedelta(minutes=3): 5}
    assert Counter(r.form["client-ref"] for r in fake.requests) == {f"relais-{i}": 1 for i in ids}
