"""Multi-step campaign work: starting runs, A/B decisions, resume, completion.

Jobs in ``campaigns.tasks`` call these inside their own ``session_scope``. Prepared messages carry
their planned time (``not_before``) and wake-up send jobs; at claim time the delivery authority
(``delivery.authority``) checks the campaign's state, consent, the window and the cap once more,
so a paused campaign's messages wait and a cancelled one's are rejected.

A background step (the preparation job, the campaigns sweep) moves a campaign's status only from the
status it read (:func:`_advance`): a pause or a cancel a person committed after that read wins, and the
step's other progress (cursor, phase, the A/B winner) is kept for the resume.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from campaigns import abtest, adaptive, forecasting, plan, scheduling
from campaigns.models import Campaign
from campaigns.prepare import queue_wakeups
from campaigns.reporting import arm_results, summary
from contacts.models import Contact
from conversations.models import IN_FLIGHT, Message
from core import webhooks
from core.db import utcnow
from core.queue import JobSpec, enqueue, enqueue_after_commit

PREPARE_JOB = "campaigns.tasks.prepare_campaign"


def _prepare_job(campaign: Campaign) -> JobSpec:
    # an adaptive campaign's batches share a phase: the cursor tells them apart (a retried sweep re-queues the same id)
    batch = f":{campaign.cursor}" if adaptive.is_adaptive(campaign) else ""
    return JobSpec(
        func=PREPARE_JOB, args=(campaign.id,),
        job_id=f"campaign-prepare:{campaign.id}:{campaign.run}:{campaign.phase}{batch}",
        queue="marketing", timeout=4 * 3600,
    )


def _queue_prepare(session: Session, campaign: Campaign) -> None:
    enqueue_after_commit(session, _prepare_job(campaign))


def requeue_lost_preparation(campaign: Campaign) -> bool:
    """Queue the preparation of a ``preparing`` campaign whose job Redis does not know; True when queued.

    The campaign's state is in the database, its job only in Redis: a job lost between the commit and
    its after-commit enqueue (the process stopped there, Redis down), or with Redis's data (a restart
    without persistence, an embedded server killed before it saved), left the campaign ``preparing``
    for ever. Preparation resumes at the campaign's cursor, so queuing it again sends nobody twice;
    a pending or running job is left alone (same id), and a failed one stays for its operator
    (``/console/jobs``)."""
    if campaign.status != "preparing" or campaign.phase not in ("main", "holdout"):
        return False
    return enqueue(_prepare_job(campaign), rerun_failed=False) is not None


def _advance(session: Session, campaign: Campaign, status: str) -> bool:
    """Move ``campaign`` to ``status`` only if it still has the status this session read; True when moved.

    The preparation job and the sweep read a campaign, work (a chunk takes seconds), then move it on. A
    pause or a cancel committed in between (the API locks the row, these steps do not) was overwritten by
    that write: the campaign went on ``running`` or ``preparing``, and the authority, which asks the
    campaign's status, let its messages go. The move is one conditional UPDATE; when it finds another
    status, the campaign keeps it (read back into ``campaign``) and the step leaves it there.
    """
    session.flush()
    read = campaign.status
    result = session.execute(
        update(Campaign).where(Campaign.id == campaign.id, Campaign.status == read).values(status=status)
        .execution_options(synchronize_session=False)
    )
    moved = int(getattr(result, "rowcount", 0) or 0) == 1
    if moved:
        set_committed_value(campaign, "status", status)
    else:
        session.refresh(campaign, ["status"])
    return moved


def start_run(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """Begin a run now: reset the per-run counters, store the run's forecast unless one was stored at
    schedule (a recurring campaign's later runs: from the audience and predictions of now), and queue
    the preparation job. Nothing starts when the campaign was paused or cancelled since it was read."""
    if not _advance(session, campaign, "preparing"):
        return
    campaign.run += 1
    if campaign.local_time and campaign.recurrence:  # each run sends at the local time of its own day
        campaign.local_date = now.astimezone(scheduling.zone(campaign.timezone)).date().isoformat()
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
    forecasting.record_if_missing(session, campaign, now=now)
    _queue_prepare(session, campaign)


def finish_phase(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """The current preparation phase reached the end of the segment."""
    campaign.cursor = 0
    if campaign.ab and campaign.phase == "main" and not adaptive.is_adaptive(campaign):
        campaign.phase = "ab_wait"
        campaign.ab_decide_at = now + timedelta(hours=float(campaign.ab.get("winner_after_hours", 4)))
    else:
        campaign.phase = "done"
    _advance(session, campaign, "running")


def decide_ab(session: Session, campaign: Campaign, *, now: datetime) -> str:
    """Pick the winning arm by this run's test results and prepare the rest of the segment with it
    (a recurring campaign tests again each run: earlier runs' results are not counted)."""
    results = arm_results(session, campaign, metric=str(campaign.ab.get("metric", "clicks")), run=campaign.run)
    winner = abtest.pick_winner(results)
    campaign.ab_winner = winner.name
    campaign.phase = "holdout"
    if _advance(session, campaign, "preparing"):  # paused meanwhile: the resume prepares the holdout
        _queue_prepare(session, campaign)
    return winner.name


def wait_for_results(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """An adaptive batch is prepared (or the next one may not be split yet): let the results of the texts sent so
    far come in before the bandit splits the next one (:func:`campaigns.adaptive.next_batch_at`)."""
    campaign.phase = "batch_wait"
    campaign.ab_decide_at = adaptive.next_batch_at(session, campaign, now)
    _advance(session, campaign, "running")


def prepare_next_batch(session: Session, campaign: Campaign) -> None:
    """The wait after an adaptive batch is over: prepare the next one (from the campaign's cursor)."""
    campaign.phase = "main"
    if _advance(session, campaign, "preparing"):
        _queue_prepare(session, campaign)


def replan_queued(session: Session, campaign: Campaign, *, now: datetime, batch: int = 5000) -> int:
    """After a resume: give every queued message of the campaign a fresh planned time; returns how many.

    Each message goes at its planned time or now, whichever is later, moved to the recipient's next
    window opening (recomputed now) and spaced by the throttle from now on: a campaign paused
    overnight does not send its backlog at once, nor at night. Wake-up jobs follow the new times.
    """
    planner = plan.Planner(campaign)
    throttle = plan.Throttle(campaign.throttle_per_minute) if campaign.throttle_per_minute else None
    last, total = 0, 0
    while True:
        rows = session.execute(
            select(Message.id, Message.not_before, Contact.timezone, Contact.country, Message.wait_reason,
                   Message.wait_detail)
            .join(Contact, Contact.id == Message.contact_id)
            .where(Message.campaign_id == campaign.id, Message.status == "queued", Message.id > last)
            .order_by(Message.id).limit(batch)
        ).all()
        if not rows:
            return total
        params, due = [], []
        for message_id, planned, tz, country, reason, detail in rows:
            after = max(now, scheduling.aware(planned)) if planned is not None else now
            slot = planner.opening(timezone=tz, country=country, after=after)
            at, wait = slot.at, slot.wait
            if throttle is not None:
                at = throttle.book(slot.at)
                wait = plan.throttled(at, campaign.timezone) if at > slot.at else wait
            if wait is None and at > now:
                # a time still ahead and unchanged keeps its reason ("best time: 13:00 from your
                # history"); a new one is said in the recipient's zone, not UTC
                unchanged = planned is not None and at == scheduling.aware(planned) and reason not in ("", "paused")
                wait = plan.Wait(reason, detail) if unchanged else plan.Wait(
                    "scheduled", f"planned for {at.astimezone(scheduling.zone(tz, campaign.timezone)):%a %H:%M} "
                    f"({tz or campaign.timezone})")
            params.append({"b_id": message_id, "b_at": at, "b_reason": wait.code if wait else "",
                           "b_detail": wait.detail if wait else ""})
            due.append(at)
        session.connection().execute(_REPLAN, params)
        queue_wakeups(session, [r[0] for r in rows], due, now)
        total += len(rows)
        last = rows[-1][0]


_messages: Table = Message.__table__  # type: ignore[assignment]
_REPLAN = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"), _messages.c.status == "queued")
    .values(not_before=bindparam("b_at"), wait_reason=bindparam("b_reason"), wait_detail=bindparam("b_detail"))
)


def resume_work(session: Session, campaign: Campaign, *, now: datetime | None = None) -> None:
    """After ``service.resume``: re-plan what stayed queued, and continue the preparation if unfinished."""
    if campaign.status in ("preparing", "running"):
        replan_queued(session, campaign, now=now or utcnow())
    if campaign.status == "preparing":
        _queue_prepare(session, campaign)


def check_completion(session: Session, campaign: Campaign, *, now: datetime) -> bool:
    """Mark a fully sent run ``completed`` (emitting ``campaign.completed``); schedule the next run."""
    if campaign.status != "running" or campaign.phase != "done":
        return False
    pending = session.scalar(
        select(Message.id).where(Message.campaign_id == campaign.id, Message.status.in_(IN_FLIGHT)).limit(1)
    )
    if pending is not None or not _advance(session, campaign, "completed"):
        return False
    campaign.completed_at = now
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
