"""Jobs of the intelligence package: the daily scoring of every contact (:mod:`intelligence.scoring`, then the
chance to respond, :mod:`intelligence.response_scoring`).

The scheduler queues :func:`score_contacts` once a day; ``POST /api/v1/intelligence/score`` and
``relais intelligence score --queue`` queue the same job under the same id, so a request while one
is pending or running adds nothing. A failed run is retried (a restart, a lost database connection);
a retry simply trains again: each run replaces the predictions it writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core import db
from core.periodic import Periodic
from core.queue import JobSpec, RetryPolicy, enqueue, get_queue, rq_job_id

log = structlog.get_logger("relais.intelligence")

DAY = 24 * 3600
JOB = "intelligence.tasks.score_contacts"
PERIODIC = (Periodic("intelligence-score", DAY, JOB, "default"),)
#: the one id a scoring request is queued under; its result is kept an hour for :func:`scoring_job`
SCORE_JOB = JobSpec(func=JOB, job_id="intelligence:score", queue="default",
                    retry=RetryPolicy(max=2, intervals=(60, 600)), timeout=2 * 3600, result_ttl=3600)  # fmt: skip
SCORE_JOB_ID = rq_job_id("intelligence:score")  # as RQ spells it: intelligence-score


def score_contacts(now: str | None = None) -> dict[str, Any]:
    """Train the order-history models and store every contact's predictions in one transaction, then the
    response model in another (one failing or finding too little data leaves the other's rows); returns the
    :class:`~intelligence.scoring.ScoringResult` as a dict (the path taken and why) with the
    :class:`~intelligence.response_scoring.ResponseResult` under ``response``. ``now``: an ISO time to score
    at instead of the current one (tests, replays)."""
    from intelligence import response_scoring, scoring

    moment = datetime.fromisoformat(now) if now else None
    with db.session_scope() as session:
        result = scoring.score_contacts(session, now=moment)
    log.info("contacts scored", **result.as_dict())
    with db.session_scope() as session:
        response = response_scoring.score(session, now=moment)
    log.info("response scored" if response.scored else "response not scored", **response.as_dict())
    return {**result.as_dict(), "response": response.as_dict()}


def request_scoring() -> str:
    """Queue :func:`score_contacts` now under :data:`SCORE_JOB`'s id (nothing new while one is pending
    or running); returns the RQ job id to poll with :func:`scoring_job`."""
    enqueue(SCORE_JOB)
    return SCORE_JOB_ID


def scoring_job() -> dict[str, Any] | None:
    """The requested scoring job as RQ knows it: id, status, times and, once finished, its result
    (None when none was requested, or RQ forgot it: results are kept an hour)."""
    queue = get_queue(SCORE_JOB.queue)
    try:
        job = Job.fetch(SCORE_JOB_ID, connection=queue.connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=True)
    return {
        "job_id": job.id, "status": str(status.value if status else "unknown"),
        "enqueued_at": job.enqueued_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "result": job.return_value() if status == JobStatus.FINISHED else None,
    }  # fmt: skip
