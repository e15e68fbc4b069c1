"""Campaign jobs: streamed preparation, the periodic sweep (sending is the delivery engine's job) and
the daily uplift scoring.

Each job takes ids, opens its own ``session_scope`` (one commit per chunk) and is safe to run
twice: preparation resumes at the campaign's cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select

from campaigns import adaptive, flows, uplift_targeting
from campaigns.models import Campaign
from campaigns.prepare import CHUNK, prepare_chunk
from core import db
from core.db import utcnow
from core.locks import kept_alive
from core.periodic import Periodic
from core.redis import get_redis
from core.settings import get_settings
from intelligence.tasks import DAY

log = structlog.get_logger("relais.campaigns")

PERIODIC = (
    Periodic("campaigns-sweep", 30, "campaigns.tasks.sweep", "marketing"),
    # the daily scoring's schedule (intelligence.tasks): uplift learns from the campaigns' control
    # groups, which the intelligence package may not read, so its job lives here
    Periodic("uplift-score", DAY, "campaigns.tasks.score_uplift", "default"),
)
#: one chunk of any campaign at a time, so frequency caps hold across overlapping campaigns
PREPARE_LOCK = "relais:campaigns:prepare"


def prepare_campaign(campaign_id: int, now: datetime | None = None,
                     progress: Callable[[int], None] | None = None) -> int:
    """Prepare the campaign's current phase chunk by chunk; stops early when paused or cancelled.

    ``progress`` (CLI) is told how many contacts each committed chunk covered. Returns the number
    of messages queued by this call.
    """
    queued = 0
    client = get_redis(get_settings())
    while True:
        with kept_alive(client, PREPARE_LOCK, ttl=120, wait=600) as held, db.session_scope() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status != "preparing" or campaign.phase not in ("main", "holdout"):
                return queued
            moment = now or utcnow()
            if adaptive.must_wait(session, campaign, moment):
                # earlier batches' texts still wait (a best hour, a window): the bandit would split on no result
                flows.wait_for_results(session, campaign, now=moment)
                return queued
            chunk = adaptive.chunk_size(campaign) if adaptive.is_adaptive(campaign) else CHUNK
            result = prepare_chunk(session, campaign, now=moment, chunk=chunk)
            if result.done:
                flows.finish_phase(session, campaign, now=moment)
            waiting = not result.done and adaptive.waits_between_batches(campaign)
            if waiting:
                flows.wait_for_results(session, campaign, now=moment)
            held.check()  # commit only under the lock: caps across overlapping campaigns depend on it
        queued += result.queued
        if progress is not None:
            progress(result.seen)
        if result.done or waiting:
            return queued


def sweep(now: datetime | None = None) -> None:
    """Re-queue lost preparations, start due runs, decide due A/B tests, prepare due adaptive batches,
    complete finished runs (every 30 s)."""
    moment = now or utcnow()
    with db.session_scope() as session:
        # before this sweep starts any run: those are queued at its commit
        for campaign in session.scalars(select(Campaign).where(Campaign.status == "preparing")):
            if flows.requeue_lost_preparation(campaign):
                log.warning("campaign preparation re-queued: its job was lost", campaign_id=campaign.id)
        due = session.scalars(select(Campaign).where(Campaign.status == "scheduled", Campaign.next_run_at <= moment))
        for campaign in due:
            flows.start_run(session, campaign, now=moment)
        deciding = session.scalars(select(Campaign).where(
            Campaign.status == "running", Campaign.phase == "ab_wait", Campaign.ab_decide_at <= moment))
        for campaign in deciding:
            flows.decide_ab(session, campaign, now=moment)
        batching = session.scalars(select(Campaign).where(
            Campaign.status == "running", Campaign.phase == "batch_wait", Campaign.ab_decide_at <= moment))
        for campaign in batching:
            flows.prepare_next_batch(session, campaign)
        for campaign in session.scalars(select(Campaign).where(Campaign.status == "running", Campaign.phase == "done")):
            flows.check_completion(session, campaign, now=moment)


def score_uplift(now: str | None = None) -> dict[str, Any]:
    """Daily: choose and train the uplift learner on the past controlled campaigns and store every
    contact's ``uplift`` (:func:`campaigns.uplift_targeting.score`); with too little such data nothing
    is stored and the returned status says why. ``now``: an ISO time to score at (UTC without offset)."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    with db.session_scope() as session:
        verdict = uplift_targeting.score(session, now=moment)
    log.info("uplift scored" if verdict.enabled else "uplift not scored", **asdict(verdict))
    return asdict(verdict)
