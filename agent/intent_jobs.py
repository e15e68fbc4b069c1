"""Intent training as a background job: the API asks, a worker (any host) trains and stores.

``POST /api/v1/intents`` validates the spec, records an :class:`~agent.models.IntentTrainingJob`
and queues ``agent.tasks.train_intents`` once the request commits; the caller polls
``GET /api/v1/intents/jobs/{id}`` (status, stage, progress, error, resulting version). Training
takes seconds to minutes (a tuned backend fine-tunes a MiniLM several times), too long for a
request, and its result lands in the shared store (:mod:`agent.intent.store`), so every host's
runtime picks the new version up at its next message.

Stages and their progress: ``queued`` 0, ``training`` 0.1, ``storing`` 0.9, ``done`` 1.
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.orm import Session

from agent.intent import merge_with_builtins, parse_spec
from agent.intent.spec import IntentSpec
from agent.models import IntentTrainingJob
from agent.runtime import intent_store
from agent.service import train_and_store
from core import db
from core.errors import NotFound, ValidationFailed
from core.queue import NO_RETRY, JobSpec, enqueue_after_commit
from core.settings import Settings

JOB_TIMEOUT = 3600


def parse_upload(text: str, *, source: str) -> IntentSpec:
    """The spec in ``text`` (YAML or JSON) merged with the built-ins; raises ``ValidationFailed``."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{source}: not valid YAML or JSON ({exc})") from None
    return merge_with_builtins(parse_spec(data, source=source))  # IntentSpecError is a ValidationFailed


def request_training(session: Session, *, spec_text: str, activate: bool, requested_by: str) -> IntentTrainingJob:
    """Validate the spec now (a bad one is a 422, not a failed job), record the job, queue it after commit."""
    parse_upload(spec_text, source="request body")
    job = IntentTrainingJob(spec_yaml=spec_text, activate=activate, requested_by=requested_by[:200])
    session.add(job)
    session.flush()
    enqueue_after_commit(session, JobSpec("agent.tasks.train_intents", args=(job.id,),
                                          job_id=f"intents-train:{job.id}", queue="default", retry=NO_RETRY,
                                          timeout=JOB_TIMEOUT))
    return job


def get_job(session: Session, job_id: int) -> IntentTrainingJob:
    """The training job ``job_id``; raises :class:`NotFound`."""
    job = session.get(IntentTrainingJob, job_id)
    if job is None:
        raise NotFound(f"no intent training job {job_id}")
    return job


def run_training(job_id: int, settings: Settings) -> str:
    """Train the job's spec and store the model in the shared store; returns the job's final status.

    Each stage is committed on its own so a poller sees it; an error marks the job failed with its
    message (a run that already finished is not repeated).
    """
    with db.session_scope() as session:
        job = get_job(session, job_id)
        if job.status in ("succeeded", "failed"):
            return job.status
        job.status, job.stage, job.progress, job.started_at = "running", "training", 0.1, db.utcnow()
        spec_text, activate = job.spec_yaml, job.activate
    try:
        spec = parse_upload(spec_text, source=f"intent training job {job_id}")
        version = train_and_store(spec, store=intent_store(settings), activate=activate,
                                  before_storing=lambda: _stage(job_id, "storing", 0.9))
    except Exception as exc:
        with db.session_scope() as session:
            job = get_job(session, job_id)
            job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], db.utcnow()
        return "failed"
    with db.session_scope() as session:
        job = get_job(session, job_id)
        job.status, job.stage, job.progress, job.version, job.finished_at = (
            "succeeded", "done", 1.0, version, db.utcnow())
    return "succeeded"


def _stage(job_id: int, stage: str, progress: float) -> None:
    with db.session_scope() as session:
        job = get_job(session, job_id)
        job.stage, job.progress = stage, progress
