"""Delivery reports taken from webhooks and applied in batches by a job.

During a campaign the provider posts one report per message, thousands a second. The webhook only
checks the signature, parses, and pushes the reports onto a Redis list (one round trip), then
schedules one apply job when none is scheduled; the job applies up to :data:`BATCH` reports per
transaction (:func:`delivery.states.apply_delivery_reports`: a fixed handful of statements per batch
whatever its size — the lookup, one locked read of the columns reports move, one executemany UPDATE
of the rows that changed; ``bench/reports_apply.py`` measures it). Applying is idempotent (a later
state always wins), so a report applied twice, or the provider's retry of one, changes nothing. A
periodic run of the job catches reports whose announcement was lost (the scheduling flag expires
after :data:`FLAG_SECONDS`).

Between the webhook's 200 and the job, a report lives in Redis, as every queued job does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

import redis

from channels.base import DeliveryReport
from core import db
from core.queue import JobSpec, enqueue
from delivery import states

PENDING_KEY = "relais:reports:pending"
SCHEDULED_KEY = "relais:reports:apply-scheduled"
APPLY_JOB = "workers.jobs.send.apply_reports"
BATCH = 500
FLAG_SECONDS = 300
_FIELDS = tuple(f.name for f in fields(DeliveryReport) if f.name != "raw")  # raw: the provider's own fields, unused


def encode(report: DeliveryReport) -> str:
    data: dict[str, Any] = {name: value for name, value in asdict(report).items() if name in _FIELDS}
    data["occurred_at"] = report.occurred_at.isoformat()
    return json.dumps(data)


def decode(raw: bytes | str) -> DeliveryReport:
    data = json.loads(raw)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    return DeliveryReport(**data)


def stage(client: redis.Redis, reports: Sequence[DeliveryReport]) -> int:
    """Keep ``reports`` for the apply job and make sure one is scheduled; returns how many were kept."""
    if not reports:
        return 0
    pipe = client.pipeline()
    pipe.rpush(PENDING_KEY, *(encode(r) for r in reports))
    pipe.set(SCHEDULED_KEY, "1", nx=True, ex=FLAG_SECONDS)
    _, scheduled = pipe.execute()
    if scheduled:
        enqueue(JobSpec(func=APPLY_JOB, job_id=f"reports-apply:{uuid.uuid4().hex}", queue="inbound"))
    return len(reports)


def apply_pending(client: redis.Redis, *, batch: int = BATCH) -> int:
    """Apply every staged report, ``batch`` per transaction; returns how many were taken.

    The flag is cleared before each pop, so a report pushed meanwhile is either popped here or
    schedules a new job. A batch whose transaction fails goes back to the list's head (and the job
    fails, to be retried): nothing popped is dropped.
    """
    taken = 0
    while True:
        client.delete(SCHEDULED_KEY)
        raw: list[bytes] | None = client.lpop(PENDING_KEY, batch)  # type: ignore[assignment]
        if not raw:
            return taken
        try:
            with db.session_scope() as session:
                states.apply_delivery_reports(session, [decode(r) for r in raw])
        except Exception:
            client.lpush(PENDING_KEY, *reversed(raw))
            raise
        taken += len(raw)
