"""The simulator's storage in Redis: what each simulated phone received, and its delivery reports.

Phones keep their last :data:`KEEP` messages for :data:`TTL_SECONDS`. Reports are queued in a Redis
list and applied by ``workers.jobs.send.apply_simulator_reports``, as a provider's webhooks would
be: after the send, asynchronously, through the same status pipeline.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import redis

from channels.base import DeliveryReport, MediaItem
from channels.simulator import SimulatedMessage, SimulatorOutbox
from core.queue import JobSpec, enqueue
from core.redis import get_redis
from core.settings import Settings, get_settings

KEEP = 200
TTL_SECONDS = 7 * 24 * 3600
REPORTS_KEY = "relais:sim:reports"
APPLY_JOB = "workers.jobs.send.apply_simulator_reports"


def _inbox_key(phone: str) -> str:
    return f"relais:sim:inbox:{phone}"


def _message_json(message: SimulatedMessage) -> str:
    data = asdict(message)
    data["sent_at"] = message.sent_at.isoformat()
    return json.dumps(data)


def _message_from(raw: bytes | str) -> SimulatedMessage:
    data: dict[str, Any] = json.loads(raw)
    data["media"] = tuple(MediaItem(**m) for m in data["media"])
    data["sent_at"] = datetime.fromisoformat(data["sent_at"])
    return SimulatedMessage(**data)


def report_json(report: DeliveryReport) -> str:
    data = {k: v for k, v in asdict(report).items() if k != "raw"}
    data["occurred_at"] = report.occurred_at.isoformat()
    return json.dumps(data)


def report_from(raw: bytes | str) -> DeliveryReport:
    data: dict[str, Any] = json.loads(raw)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    return DeliveryReport(**data)


class RedisOutbox(SimulatorOutbox):
    """Shared by every process of a deployment (API shows, workers deliver)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def deliver(self, *, phone: str, message: SimulatedMessage) -> None:
        key = _inbox_key(phone)
        pipe = self._redis.pipeline()
        pipe.rpush(key, _message_json(message))
        pipe.ltrim(key, -KEEP, -1)
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()

    def report(self, *, report: DeliveryReport) -> None:
        self._redis.rpush(REPORTS_KEY, report_json(report))
        # one job per report: whichever runs first drains the list, the rest find it empty
        enqueue(
            JobSpec(
                func=APPLY_JOB,
                job_id=f"sim-report:{report.provider_message_id}:{report.status}",
                queue="default",
            )
        )

    def messages_for(self, phone: str, *, after: int = 0) -> list[tuple[int, SimulatedMessage]]:
        """``(sequence, message)`` received by ``phone``, oldest first, sequence > ``after``.

        Sequences count from the first message kept, so a page can poll for what is new.
        """
        raw = self._redis.lrange(_inbox_key(phone), 0, -1)
        return [(i + 1, _message_from(r)) for i, r in enumerate(raw) if i + 1 > after]

    def forget(self, phone: str) -> int:
        """Erase ``phone``: what it received and its delivery reports not yet applied; returns how many.

        Part of a contact's erasure: the inbox key names the number and holds the texts in clear.
        """
        removed = int(self._redis.llen(_inbox_key(phone)))
        self._redis.delete(_inbox_key(phone))
        pending: list[bytes] = self._redis.lrange(REPORTS_KEY, 0, -1)  # type: ignore[assignment]
        for raw in pending:
            if json.loads(raw).get("to") == phone:
                removed += int(self._redis.lrem(REPORTS_KEY, 0, raw))  # type: ignore[arg-type]
        return removed

    def pop_reports(self, limit: int = 500) -> list[DeliveryReport]:
        """Take up to ``limit`` pending reports, oldest first."""
        raw: list[bytes] | None = self._redis.lpop(REPORTS_KEY, limit)  # type: ignore[assignment]
        return [report_from(r) for r in raw or []]


def redis_outbox(settings: Settings | None = None) -> RedisOutbox:
    """The simulator's outbox on the deployment's Redis (the API's phone pages, the send job)."""
    return RedisOutbox(get_redis(settings or get_settings()))
