"""The scheduler thread of ``relais run``: periodic jobs, and delayed jobs moved without a fork."""

from __future__ import annotations

import time
from datetime import timedelta

from core.db import utcnow
from core.queue import JobSpec, enqueue, get_queue
from core.settings import Settings
from workers.scheduler import PeriodicScheduler


def test_the_scheduler_thread_moves_due_delayed_jobs_onto_their_queue(runtime: Settings) -> None:
    # a retry or a wake-up at a message's not_before is a delayed job; RQ's own scheduler would fork
    enqueue(JobSpec(func="tests.workers.jobs.touch", job_id="wake-up", queue="marketing",
                    at=utcnow() + timedelta(seconds=1)))
    queue = get_queue("marketing")
    assert queue.job_ids == []
    with PeriodicScheduler(interval=0.2, delayed_jobs=True):
        deadline = time.monotonic() + 10
        while "wake-up" not in queue.job_ids and time.monotonic() < deadline:
            time.sleep(0.1)
    assert "wake-up" in queue.job_ids
