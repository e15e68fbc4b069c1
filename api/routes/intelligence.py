"""Predictions: queue the scoring of every contact (marketers), read the state of that job and the
model versions in use (marketers, agents, analysts), one contact's current predictions (marketers and
agents, who work with the person) and the predictions summarised across contacts (analysts too: they
measure the models, not the people; docs/security.md, Roles).

Scoring trains the models on the deployment's orders (:mod:`intelligence.scoring`), a job any
worker runs: the request answers 202 with the job to poll, as intent training does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from contacts.models import PREDICTION_KINDS
from conversations import visibility
from core import audit
from core.accounts import Principal
from core.queue import enqueue_after_commit
from core.rbac import Role
from intelligence import store, summary, tasks
from intelligence.models import ModelVersion

router = APIRouter(prefix="/api/v1", tags=["intelligence"])
READERS = require(Role.MARKETER, Role.AGENT, Role.ANALYST)
PERSONAL = require(Role.MARKETER, Role.AGENT)  # one named person's scores: not an analyst's


class ScoringOut(BaseModel):
    """The requested scoring job and the newest model version of each prediction kind."""

    job_id: str | None
    status: str = Field(description="queued, started, finished, failed... or 'none' when no job is known")
    result: dict[str, Any] | None = Field(
        description="once finished: path (scored / too_little_history), reason, counts"
    )
    versions: dict[str, dict[str, Any]] = Field(description="kind -> version, trained_at, metrics, params")
    links: dict[str, str]


def _scoring(session: Session, job_id: str | None = None) -> ScoringOut:
    job = tasks.scoring_job()
    newest = select(ModelVersion.kind, func.max(ModelVersion.trained_at)).group_by(ModelVersion.kind).subquery()
    rows = session.scalars(select(ModelVersion).join(
        newest, (newest.c.kind == ModelVersion.kind) & (newest.c[1] == ModelVersion.trained_at)))  # fmt: skip
    versions = {v.kind: {"version": v.version, "trained_at": v.trained_at, "metrics": v.metrics, "params": v.params}
                for v in rows if v.kind in PREDICTION_KINDS}  # fmt: skip
    return ScoringOut(job_id=job_id or (job or {}).get("job_id"), status=(job or {}).get("status", "none"),
                      result=(job or {}).get("result"), versions=versions,
                      links={"self": "/api/v1/intelligence/score"})  # fmt: skip


@router.post("/intelligence/score", response_model=ScoringOut, status_code=202)
def request_scoring(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require(Role.MARKETER)),
) -> ScoringOut:
    """Queue the scoring of every contact now (the scheduler also runs it daily); poll ``links.self``.

    While a requested run is pending or running, asking again queues nothing and answers that job.
    """
    audit.record(session, actor=actor(request, principal), action="intelligence.score", target_type="job",
                 target_id=tasks.SCORE_JOB_ID, diff={})  # fmt: skip
    enqueue_after_commit(session, tasks.SCORE_JOB)
    out = _scoring(session, tasks.SCORE_JOB_ID)
    if out.status not in {"queued", "started"}:
        out.status, out.result = "queued", None
    return out


@router.get("/intelligence/score", response_model=ScoringOut)
def scoring_state(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> ScoringOut:
    """The requested scoring job (status and, once finished, which path it took and why) and the model versions."""
    return _scoring(session)


class PredictionOut(BaseModel):
    kind: str
    label: str = Field(description="what the value means, in words")
    value: float
    detail: dict[str, Any] = Field(description="percentile (0-100) and per kind: products, date, hour, day, timezone")
    version: str
    computed_at: datetime


@router.get("/contacts/{contact_id}/predictions", response_model=list[PredictionOut])
def contact_predictions(
    contact_id: int, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(PERSONAL)
) -> list[PredictionOut]:
    """The contact's current prediction of each kind (empty before the first scoring; 404 unknown contact, or
    for an agent one without a conversation)."""
    visibility.readable_contact(session, principal.role, contact_id)
    return [PredictionOut(kind=p.kind, label=PREDICTION_KINDS.get(p.kind, p.kind), value=p.value, detail=p.detail,
                          version=p.version, computed_at=p.computed_at)
            for p in store.current(session, contact_id).values()]  # fmt: skip


class KindSummaryOut(BaseModel):
    kind: str
    label: str = Field(description="what the value means, in words")
    contacts: int = Field(description="contacts holding a current prediction of this kind")
    mean: float | None = Field(description=f"null under {summary.MIN_CONTACTS} contacts (as p10, median, p90)")
    p10: float | None
    median: float | None
    p90: float | None
    bands: dict[str, int] = Field(description="chances only: contacts per band (under 20 %, 20 to 50 %, ...)")
    versions: list[str] = Field(description="model versions that computed these values")
    computed_from: datetime | None
    computed_to: datetime | None


@router.get("/intelligence/summary", response_model=list[KindSummaryOut])
def predictions_summary(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[KindSummaryOut]:
    """Each prediction kind across every scored contact: count, mean, percentiles, bands, versions.

    No contact is named; a kind held by fewer than ``MIN_CONTACTS`` contacts gives its count only.
    """
    return [KindSummaryOut(kind=k.kind, label=k.label, contacts=k.contacts, mean=k.mean, p10=k.p10, median=k.median,
                           p90=k.p90, bands=k.bands, versions=k.versions, computed_from=k.computed_from,
                           computed_to=k.computed_to)
            for k in summary.summarise(session)]  # fmt: skip
