"""Jobs go out only after commit, carry deterministic ids, retry, and land in the failed registry."""

from __future__ import annotations

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from core import db
from core.queue import QUEUE_NAMES, JobSpec, RetryPolicy, enqueue, enqueue_after_commit, failed_jobs, get_queue
from core.redis import get_redis
from core.settings import Settings
from tests.helpers import run_jobs

PROBE_KEY = "relais:test:probe"


def record_probe(value: str) -> str:
    """A job that leaves a trace in Redis (what a real job's side effect would be)."""
    from core.settings import get_settings

    get_redis(get_settings()).rpush(PROBE_KEY, value)
    return value


def always_fails() -> None:
    record_probe("attempt")
    raise RuntimeError("provider exploded")


def _probes(settings: Settings) -> list[str]:
    return [v.decode() for v in get_redis(settings).lrange(PROBE_KEY, 0, -1)]


def test_priority_order_is_declared() -> None:
    assert QUEUE_NAMES == ("transactional", "conversational", "inbound", "marketing", "default")


def test_job_sent_only_after_commit(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.record_probe", args=("committed",), job_id="probe:1")
    with db.session_scope() as session:
        enqueue_after_commit(session, spec)
        assert get_queue("default").count == 0
    assert get_queue("default").count == 1
    run_jobs()
    assert _probes(runtime) == ["committed"]


def test_job_dropped_on_rollback(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.record_probe", args=("rolled back",), job_id="probe:2")
    with pytest.raises(RuntimeError), db.session_scope() as session:
        enqueue_after_commit(session, spec)
        raise RuntimeError("request failed")
    assert get_queue("default").count == 0


def test_same_job_id_is_not_queued_twice(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.record_probe", args=("once",), job_id="probe:3", queue="marketing")
    assert enqueue(spec) is not None
    assert enqueue(spec) is None
    assert get_queue("marketing").count == 1
    job = Job.fetch("probe-3", connection=get_queue("marketing").connection, serializer=JSONSerializer)
    assert job.args == ["once"]  # stored as JSON, not a pickle


def test_failing_job_is_retried_then_listed_as_failed(runtime: Settings, app_client) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import auth_headers

    enqueue(
        JobSpec(func="tests.core.test_queue.always_fails", job_id="boom:1", retry=RetryPolicy(max=2, intervals=(0, 0)))
    )
    run_jobs()
    job = Job.fetch("boom-1", connection=get_queue("default").connection, serializer=JSONSerializer)
    assert job.get_status() == "failed"
    assert _probes(runtime) == ["attempt"] * 3  # the first try and two retries
    assert [f.id for f in failed_jobs()] == ["boom-1"]
    listed = app_client.get("/api/v1/jobs/failed", headers=auth_headers("admin"))
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == "boom-1" and "provider exploded" in listed.json()[0]["error"]
    assert app_client.get("/api/v1/jobs/failed", headers=auth_headers("agent")).status_code == 403
    again = app_client.post("/api/v1/jobs/failed/boom-1/requeue", headers=auth_headers("admin"))
    assert again.status_code == 202
    assert get_queue("default").count == 1
