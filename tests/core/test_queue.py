"""Jobs go out only after commit, carry deterministic ids, retry, and land in the failed registry."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_lib
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from core import db, poison
from core.queue import (
    NO_RETRY,
    QUEUE_NAMES,
    JobSpec,
    RetryPolicy,
    enqueue,
    enqueue_after_commit,
    failed_jobs,
    get_queue,
)
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


def test_a_finished_job_is_not_kept_and_its_id_runs_again(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.record_probe", args=("again",), job_id="probe:4")
    assert enqueue(spec) is not None
    run_jobs()
    with pytest.raises(NoSuchJobError):  # nobody reads a send's return value: not kept (result_ttl 0)
        Job.fetch("probe-4", connection=get_queue("default").connection, serializer=JSONSerializer)
    assert enqueue(spec) is not None
    run_jobs()
    assert _probes(runtime) == ["again", "again"]


def test_a_kept_result_is_readable_until_its_id_is_queued_again(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.record_probe", args=("kept",), job_id="probe:5", result_ttl=60)
    enqueue(spec)
    run_jobs()
    job = Job.fetch("probe-5", connection=get_queue("default").connection, serializer=JSONSerializer)
    assert job.get_status() == "finished" and job.return_value() == "kept"
    assert enqueue(spec) is not None  # a finished job is replaced: a deliberate re-run
    assert get_queue("default").count == 1


def test_a_failed_job_is_replaced_by_a_new_enqueue_but_a_dead_lettered_id_is_refused(runtime: Settings) -> None:
    spec = JobSpec(func="tests.core.test_queue.always_fails", job_id="boom:2", retry=NO_RETRY)
    enqueue(spec)
    run_jobs()
    assert [f.id for f in failed_jobs()] == ["boom-2"]
    assert enqueue(spec) is not None
    assert get_queue("default").count == 1 and failed_jobs() == []
    client = get_redis(runtime)
    poison.mark_dead(client, "boom-3")  # retired, then discarded by an operator: the job itself is gone
    assert enqueue(JobSpec(func="tests.core.test_queue.always_fails", job_id="boom:3")) is None


class CountingConnection(redis_lib.Connection):
    """A real connection that counts what it sends: one send is one round trip (a pipeline is one)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


def counting_client(url: str) -> redis_lib.Redis:
    return redis_lib.Redis(connection_pool=redis_lib.ConnectionPool.from_url(url, connection_class=CountingConnection))


def test_an_enqueue_with_an_id_costs_two_round_trips(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.queue

    client = counting_client(runtime.redis_url or "")  # get_redis's client is one per process too
    monkeypatch.setattr(core.queue, "get_redis", lambda settings: client)
    enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=("warm",), job_id="probe:warm"))
    before = CountingConnection.sent
    for n in range(10):
        enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=(str(n),), job_id=f"probe:rt{n}"))
    assert CountingConnection.sent - before == 2 * 10  # the checks with the queue's registration, RQ's script
    assert get_queue("default").count == 11


def test_a_job_costs_the_worker_three_round_trips(runtime: Settings) -> None:
    """RQ's loop took 25 per job (the wait and the fetch, heartbeats of 4 each, the start and end in several
    pipelines, the watch of dependents, the suspension check): now the pop with the fetch, the start, the
    end. The difference between 30 and 10 jobs leaves the worker's start and end out."""
    from core.dequeue import PrefetchingQueue
    from workers.runner import ResidentWorker, worker_name

    def round_trips(jobs: int) -> int:
        for n in range(jobs):
            enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=(str(n),), queue="transactional"))
        client = counting_client(runtime.redis_url or "")
        queues = [PrefetchingQueue(name, connection=client, serializer=JSONSerializer) for name in QUEUE_NAMES]
        worker = ResidentWorker(queues, connection=client, serializer=JSONSerializer, name=worker_name())
        before = CountingConnection.sent
        worker.work(burst=True, logging_level="WARNING")
        return CountingConnection.sent - before

    small, large = round_trips(10), round_trips(30)
    assert len(_probes(runtime)) == 40
    assert (large - small) / 20 <= 3.5  # three, and the re-registration and suspension checks once a second
