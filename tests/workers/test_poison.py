"""Poison jobs go to the dead letters: a job that kills its worker process, or fails each time, is not run
again and again when sweeps queue its id anew; the failed-jobs API shows why, and a requeue resets it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core import poison
from core.queue import NO_RETRY, JobSpec, enqueue, failed_jobs
from tests.helpers import auth_headers
from workers import keeper
from workers.keeper import Keeper
from workers.runner import make_worker


def _work_once() -> None:
    """One burst of ``relais worker``'s keeper: its worker process runs the jobs; one killed under a job
    is replaced and its job retired as abandoned."""
    Keeper().run(burst=True, logging_level="ERROR")


def _work_here() -> None:
    """One burst of ``relais worker``'s resident worker in this process (a timeout is SIGALRM here too)."""
    make_worker().work(burst=True, logging_level="ERROR")


def _starts(marks: Path) -> int:
    return len(marks.read_text().splitlines()) if marks.exists() else 0


def test_a_job_that_kills_its_worker_is_dead_lettered_after_three_deaths(
    app_client: TestClient, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    spec = JobSpec(func="tests.workers.jobs.kill_the_worker", args=(str(marks),), job_id="poison:1", retry=NO_RETRY)
    for _ in range(6):  # a sweep queues the same job id again after each failure
        enqueue(spec)
        _work_once()
    assert _starts(marks) == poison.MAX_DEATHS  # the 4th start retired it unrun; the rest were refused
    assert enqueue(spec) is None
    admin = auth_headers("admin")
    [failed] = app_client.get("/api/v1/jobs/failed", headers=admin).json()
    assert failed["id"] == "poison-1" and failed["func"] == "tests.workers.jobs.kill_the_worker"
    assert failed["reason"] == "dead-lettered: killed or froze its worker 3 times"
    assert app_client.post("/api/v1/jobs/failed/poison-1/requeue", headers=admin).status_code == 202
    _work_once()
    assert _starts(marks) == poison.MAX_DEATHS + 1  # an operator's requeue runs it once more


def test_a_job_failing_every_time_stops_coming_back(
    app_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poison, "MAX_STARTS", 2)
    marks = tmp_path / "marks"
    spec = JobSpec(
        func="tests.workers.jobs.freeze", args=(str(marks), 30), job_id="frozen:1", retry=NO_RETRY, timeout=1
    )
    for _ in range(4):
        enqueue(spec)
        _work_here()  # the patched MAX_STARTS holds in this process only
    assert _starts(marks) == 2  # each start timed out (a failure, not a death); the third was retired
    [failed] = app_client.get("/api/v1/jobs/failed", headers=auth_headers("admin")).json()
    assert failed["reason"] == "dead-lettered: started 2 times without success (2 failures)"


def test_a_job_deaf_to_its_timeout_is_killed_by_the_keeper_and_retired(
    app_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keeper, "FROZEN_AFTER_SECONDS", 1)  # the keeper runs in this process
    marks = tmp_path / "marks"
    spec = JobSpec(func="tests.workers.jobs.hold", args=(str(marks), 300), job_id="deaf:1", retry=NO_RETRY, timeout=1)
    enqueue(spec)
    started = time.monotonic()
    _work_once()  # the keeper kills the frozen process, retires its job, and a new process finds nothing to do
    assert time.monotonic() - started < 120  # not the job's 300 s
    assert _starts(marks) == 1
    [failed] = failed_jobs()
    assert failed.id == "deaf-1" and "AbandonedJobError" in failed.reason
    assert enqueue(spec) is not None  # no longer running: a sweep may queue it again, and its death is counted
