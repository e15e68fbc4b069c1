"""Intent models: list versions (agents, analysts), upload a spec to train a new one, activate or roll
back a version (admin). Training is a background job any worker runs (:mod:`agent.intent_jobs`):
the upload answers 202 with the job to poll."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent import intent_jobs
from agent.models import IntentTrainingJob
from agent.runtime import intent_store
from api.deps import Acting, acting, actor, db_session, raw_body, require
from core import audit
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from core.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["intents"])
ADMIN = acting()

MAX_SPEC_BYTES = 2 * 1024 * 1024


class VersionOut(BaseModel):
    version: str
    created_at: str
    backend: str
    spec_hash: str
    intents: list[str]
    metrics: dict[str, Any]
    active: bool


def _versions(session: Session | None = None) -> list[VersionOut]:
    return [
        VersionOut(
            version=v.version,
            created_at=v.created_at,
            backend=v.backend,
            spec_hash=v.spec_hash,
            intents=list(v.intents),
            metrics=v.metrics,
            active=v.active,
        )
        for v in intent_store(get_settings()).versions(session=session)
    ]


def _one(version: str, session: Session) -> VersionOut:
    return next(v for v in _versions(session) if v.version == version)


@router.get("/intents", response_model=list[VersionOut])
def list_versions(_: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> list[VersionOut]:
    """Stored intent models, oldest first; ``active`` marks the one the agent uses."""
    return _versions()


class TrainingJobOut(BaseModel):
    """An intent training job (``GET /api/v1/intents/jobs/{id}``)."""

    id: int
    status: str = Field(description="pending, running, succeeded or failed")
    stage: str = Field(description="queued, training, storing or done")
    progress: float = Field(description="0 to 1")
    error: str = Field(description="why a failed job stopped")
    version: str | None = Field(description="the model it stored, once succeeded")
    activate: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]

    @classmethod
    def of(cls, job: IntentTrainingJob) -> TrainingJobOut:
        links = {"self": f"/api/v1/intents/jobs/{job.id}"}
        if job.version:
            links["model"] = "/api/v1/intents"
        return cls(id=job.id, status=job.status, stage=job.stage, progress=job.progress, error=job.error,
                   version=job.version, activate=job.activate, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at, links=links)


@router.post("/intents", response_model=TrainingJobOut, status_code=202)
def load_intents(
    request: Request,
    activate: bool = True,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
    raw: bytes = Depends(raw_body),
) -> TrainingJobOut:
    """Queue training of a model from the YAML (or JSON) spec in the request body; poll the job returned.

    The spec is checked now: a bad one is a 422 naming the intent and the problem, and nothing is queued.
    """
    if len(raw) > MAX_SPEC_BYTES:
        raise ValidationFailed(f"the spec is limited to {MAX_SPEC_BYTES // 1024} KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the body is not valid UTF-8 ({exc})") from None
    who = actor(request, principal)
    job = intent_jobs.request_training(session, spec_text=text, activate=activate, requested_by=f"{who.type}:{who.id}")
    audit.record(session, actor=who, action="intents.train", target_type="intent_training_job", target_id=job.id,
                 diff={"activate": activate, "bytes": len(raw)})
    return TrainingJobOut.of(job)


@router.get("/intents/jobs/{job_id}", response_model=TrainingJobOut)
def training_job(
    job_id: int,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.AGENT, Role.ANALYST)),
) -> TrainingJobOut:
    """An intent training job: status, stage, progress, error and, once done, the version it stored."""
    return TrainingJobOut.of(intent_jobs.get_job(session, job_id))


@router.post("/intents/{version}/activate", response_model=VersionOut)
def activate_version(version: str, by: Acting = ADMIN) -> VersionOut:
    store = intent_store(get_settings())
    before = store.active_version()
    store.activate(version, session=by.session)
    by.audit("intents.activate", "intent_model", version, {"active": [before, version]})
    return _one(version, by.session)


@router.post("/intents/rollback", response_model=VersionOut)
def rollback(by: Acting = ADMIN) -> VersionOut:
    """Re-activate the previously active model."""
    store = intent_store(get_settings())
    before = store.active_version()
    version = store.rollback(session=by.session)
    by.audit("intents.rollback", "intent_model", version, {"active": [before, version]})
    return _one(version, by.session)
