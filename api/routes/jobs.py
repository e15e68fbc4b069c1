"""Background jobs that exhausted their retries (admin), and re-queueing them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from core import audit
from core.accounts import Principal
from core.errors import NotFound
from core.queue import failed_jobs, requeue_failed
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class FailedJobOut(BaseModel):
    id: str
    queue: str
    func: str
    args: list[Any]
    error: str
    reason: str
    failed_at: datetime | None


@router.get("/jobs/failed", response_model=list[FailedJobOut])
def list_failed(limit: int = 100, _: Principal = Depends(require(Role.ADMIN))) -> list[FailedJobOut]:
    """Jobs that exhausted their retries or were dead-lettered (``reason``: "killed or froze its worker 3 times")."""
    return [FailedJobOut(**vars(j)) for j in failed_jobs(limit)]


@router.post("/jobs/failed/{job_id}/requeue", status_code=202)
def requeue(
    job_id: str,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.ADMIN)),
) -> dict[str, str]:
    if not requeue_failed(job_id):
        raise NotFound(f"no failed job {job_id}")
    audit.record(session, actor=actor(request, principal), action="job.requeue", target_type="job", target_id=job_id)
    return {"id": job_id, "status": "queued"}
