"""Multi-step campaign work: starting runs, releasing batches to the send job, A/B decisions, completion.

Jobs in ``campaigns.tasks`` call these inside their own ``session_scope``. A released batch is
checked again here (campaign still running, contacts still allowed) before the delivery job
``workers.jobs.send.send_messages`` gets it (``conversations.flows.send_job``), and that job
checks consent once more at send time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns import abtest, scheduling
from campaigns.models import Campaign
from campaigns.reporting import arm_results, summary
from conversations.flows import send_job
from conversations.models import Message
from core import webhooks
from core.queue import JobSpec, enqueue_after_commit

IN_FLIGHT = ("queued", "sending")
PREPARE_JOB = "campaigns.tasks.prepare_campaign"


def _queue_prepare(session: Session, campaign: Campaign) -> None:
    enqueue_after_commit(session, JobSpec(
        func=PREPARE_JOB, args=(campaign.id,), job_id=f"campaign-prepare:{campaign.id}:{campaign.run}:{campaign.phase}",
        queue="marketing", timeout=4 * 3600,
    ))


def start_run(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """Begin a run now: reset the per-run counters and queue the preparation job."""
    campaign.run += 1
    if campaign.local_time and campaign.recurrence:  # each run sends at the local time of its own day
        campaign.local_date = now.astimezone(scheduling.zone(campaign.timezone)).date().isoformat()
    campaign.status = "preparing"
    campaign.phase = "main"
    campaign.cursor = 0
    campaign.prepared = 0
    campaign.skipped = {}
    campaign.ab_winner = ""
    campaign.ab_decide_at = None
    campaign.run_started_at = now
    campaign.started_at = campaign.started_at or now
    campaign.next_run_at = None
    session.flush()
    _queue_prepare(session, campaign)


def finish_phase(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """The current preparation phase reached the end of the segment."""
    campaign.cursor = 0
    if campaign.ab and campaign.phase == "main":
        campaign.phase = "ab_wait"
        campaign.ab_decide_at = now + timedelta(hours=float(campaign.ab.get("winner_after_hours", 4)))
    else:
        campaign.phase = "done"
    campaign.status = "running"
    session.flush()


def decide_ab(session: Session, campaign: Campaign, *, now: datetime) -> str:
    """Pick the winning arm by the test's metric and prepare the rest of the segment with it."""
    results = arm_results(session, campaign, metric=str(campaign.ab.get("metric", "clicks")))
    winner = abtest.pick_winner(results)
    campaign.ab_winner = winner.name
    campaign.phase = "holdout"
    campaign.status = "preparing"
    session.flush()
    _queue_prepare(session, campaign)
    return winner.name


def release(session: Session, campaign_id: int, message_ids: list[int]) -> list[int]:
    """Hand a batch to the send job if the campaign still runs; returns the ids handed over.

    Paused: nothing happens (resume releases the queued messages again). Cancelled or finished:
    the messages are rejected. Contacts who opted out since preparation are rejected here.
    """
    from contacts.consent import blocked_contact_ids

    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status == "paused":
        return []
    rows = session.execute(
        select(Message.id, Message.contact_id).where(Message.id.in_(message_ids), Message.status == "queued")
    ).all()
    if campaign.status not in ("preparing", "running"):
        _reject(session, [r[0] for r in rows], "campaign_cancelled", f"campaign {campaign.status}")
        return []
    blocked = blocked_contact_ids(session, sorted({r[1] for r in rows}), "marketing")
    _reject(session, [r[0] for r in rows if r[1] in blocked], "opted_out", "contact opted out before sending")
    ready = [r[0] for r in rows if r[1] not in blocked]
    if ready:
        enqueue_after_commit(session, send_job(ready, lane="marketing"))
    return ready


def _reject(session: Session, ids: list[int], code: str, reason: str) -> None:
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids), Message.status == "queued")
                        .values(status="rejected", error_code=code, error_reason=reason))


def release_queued(session: Session, campaign: Campaign, *, batch: int = 500) -> int:
    """After a resume: queue release jobs for every message of the campaign still queued."""
    last, total = 0, 0
    while True:
        ids = list(session.scalars(
            select(Message.id).where(Message.campaign_id == campaign.id, Message.status == "queued", Message.id > last)
            .order_by(Message.id).limit(batch)
        ))
        if not ids:
            return total
        enqueue_after_commit(session, JobSpec(func="campaigns.tasks.release_batch", args=(campaign.id, ids),
                                              job_id=f"campaign-release:{campaign.id}:{ids[0]}:resume",
                                              queue="marketing"))
        total += len(ids)
        last = ids[-1]


def resume_work(session: Session, campaign: Campaign) -> None:
    """After ``service.resume``: continue the preparation, or release what stayed queued."""
    if campaign.status == "preparing":
        _queue_prepare(session, campaign)
    elif campaign.status == "running":
        release_queued(session, campaign)


def check_completion(session: Session, campaign: Campaign, *, now: datetime) -> bool:
    """Mark a fully sent run ``completed`` (emitting ``campaign.completed``); schedule the next run."""
    if campaign.status != "running" or campaign.phase != "done":
        return False
    pending = session.scalar(
        select(Message.id).where(Message.campaign_id == campaign.id, Message.status.in_(IN_FLIGHT)).limit(1)
    )
    if pending is not None:
        return False
    campaign.completed_at = now
    campaign.status = "completed"
    webhooks.emit(session, "campaign.completed", {"campaign_id": campaign.id, "name": campaign.name,
                                                  "run": campaign.run, **summary(session, campaign.id)})
    if campaign.recurrence:
        nxt = scheduling.next_occurrence(campaign.recurrence, after=now, tz=scheduling.zone(campaign.timezone),
                                         start=scheduling.aware(campaign.send_at) if campaign.send_at else None)
        if nxt is not None:
            campaign.status = "scheduled"
            campaign.next_run_at = nxt
            campaign.phase = ""
    session.flush()
    return True
