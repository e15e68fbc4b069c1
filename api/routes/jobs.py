"""Background jobs that exhausted their retries or were dead-lettered (admin): list, re-queue, discard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from api.deps import Acting, acting, require
from core import failed_jobs
from core.accounts import Principal
from core.errors import NotFound
from core.queue import requeue_failed, rq_job_id
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["jobs"])
ADMIN = acting(Role.ADMIN)


class FailedJobOut(BaseModel):
    id: str
    queue: str
    func: str
    args: list[Any]
    error: str
    reason: str
    failed_at: datetime | None
    about: str  # the subject in words: "Send message 42", "Prepare the recipients of campaign 7"
    subject_kind: str  # "message", "campaign", "import", "intent_training", "webhook_delivery" or ""
    subject_ids: list[int]
    runs: int | None  # times it began running under its id; null once nothing counts it any more
    dead_lettered: bool


def _out(entry: failed_jobs.FailedJobEntry) -> FailedJobOut:
    return FailedJobOut(
        **vars(entry.job), about=entry.subject.text, subject_kind=entry.subject.kind,
        subject_ids=list(entry.subject.ids), runs=entry.runs, dead_lettered=entry.dead_lettered,
    )


@router.get("/jobs/failed", response_model=list[FailedJobOut])
def list_failed(limit: int = 100, _: Principal = Depends(require(Role.ADMIN))) -> list[FailedJobOut]:
    """Jobs that exhausted their retries or were dead-lettered (``reason``: "killed or froze its worker 3 times")."""
    return [_out(entry) for entry in failed_jobs.failed(limit)]


def _audit(by: Acting, action: str, job_id: str, subject: failed_jobs.Subject) -> None:
    by.audit(action, "job", rq_job_id(job_id), {"about": subject.text})


@router.post("/jobs/failed/{job_id}/requeue", status_code=202)
def requeue(job_id: str, by: Acting = ADMIN) -> dict[str, str]:
    """Run a failed job again (a dead-lettered one starts counting its attempts afresh); audited ``job.requeue``."""
    subject = failed_jobs.subject_of(job_id)
    if subject is None or not requeue_failed(job_id):
        raise NotFound(f"no failed job {job_id}")
    _audit(by, "job.requeue", job_id, subject)
    return {"id": rq_job_id(job_id), "status": "queued"}


@router.delete("/jobs/failed/{job_id}", status_code=204)
def discard(job_id: str, by: Acting = ADMIN) -> Response:
    """Delete a failed job without running it; audited ``job.discard``.

    A dead-lettered id stays refused to automatic re-queues for a week (see ``core.failed_jobs.discard``).
    """
    subject = failed_jobs.subject_of(job_id)
    if subject is None or not failed_jobs.discard(job_id):
        raise NotFound(f"no failed job {job_id}")
    _audit(by, "job.discard", job_id, subject)
    return Response(status_code=204)
