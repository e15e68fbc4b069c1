"""``relais worker``'s resident worker while a job runs: the job can name its worker, which stays
registered and is renewed by one heartbeat thread for the worker's life (not one per job)."""

from __future__ import annotations

import threading
import time

import pytest

from core.queue import JobSpec, enqueue, live_workers
from core.redis import get_redis
from core.settings import Settings, get_settings
from workers import runner
from workers.runner import claim_owner, make_worker

KEY = "relais:test:heartbeats"


def record_heartbeats(seconds: float) -> None:
    """From inside a job: the worker's heartbeat now and ``seconds`` later, and whether it is live."""
    client = get_redis(get_settings())
    registration = f"rq:worker:{claim_owner()}"
    first = client.hget(registration, "last_heartbeat")
    time.sleep(seconds)
    later = client.hget(registration, "last_heartbeat")
    live = claim_owner() in live_workers(client, [claim_owner()])
    threads = [t.name for t in threading.enumerate()].count("relais-heartbeat")
    client.rpush(KEY, first or b"", later or b"", int(live), threads)


def test_a_running_job_s_worker_is_live_and_renewed_by_one_thread(
    runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.2)
    for n in range(3):
        enqueue(JobSpec(func="tests.workers.test_runner.record_heartbeats", args=(1.0,), job_id=f"beat:{n}"))
    make_worker().work(burst=True, logging_level="WARNING")
    values = get_redis(runtime).lrange(KEY, 0, -1)
    assert len(values) == 12
    for first, later, live, threads in zip(values[::4], values[1::4], values[2::4], values[3::4], strict=True):
        assert first and later and later > first  # renewed while the job ran (every 0.2 s here, 30 s in life)
        assert live == b"1"  # its claims are vouched for
        assert threads == b"1"  # one renewing thread for the worker, not one per job
    deadline = time.monotonic() + 5
    while "relais-heartbeat" in [t.name for t in threading.enumerate()] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "relais-heartbeat" not in [t.name for t in threading.enumerate()]  # gone with its worker
