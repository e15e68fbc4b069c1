"""A worker takes the next job in one round trip: in priority order, as RQ's wait would, skipping a job
deleted while queued, and falling back to RQ's wait when every queue is empty."""

from __future__ import annotations

from rq.job import Job
from rq.serializers import JSONSerializer

from core.dequeue import PrefetchingQueue
from core.queue import JobSpec, all_queues, enqueue, get_queue
from core.settings import Settings


def _take() -> tuple[Job, str] | None:
    queues = all_queues()
    found = PrefetchingQueue.dequeue_any(queues, None, connection=queues[0].connection, serializer=JSONSerializer)
    return None if found is None else (found[0], found[1].name)


def test_the_first_queue_in_priority_order_goes_first_with_its_job(runtime: Settings) -> None:
    enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=("later",), job_id="m:1", queue="marketing"))
    enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=("first",), job_id="t:1", queue="transactional"))
    taken = _take()
    assert taken is not None
    job, queue = taken
    assert (job.id, queue, job.func_name, job.args) == ("t-1", "transactional", "tests.core.test_queue.record_probe",
                                                        ["first"])  # fmt: skip
    assert job.get_status(refresh=False) == "queued" and job.timeout == 600  # the stored job, restored
    taken = _take()
    assert taken is not None and (taken[0].id, taken[1]) == ("m-1", "marketing")
    assert _take() is None  # every queue empty: RQ's own (non-blocking here) wait answers


def test_a_job_deleted_while_queued_is_skipped(runtime: Settings) -> None:
    gone = enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=("gone",), job_id="d:1"))
    enqueue(JobSpec(func="tests.core.test_queue.record_probe", args=("kept",), job_id="d:2"))
    assert gone is not None
    get_queue("default").connection.delete(gone.key)
    taken = _take()
    assert taken is not None and taken[0].id == "d-2"
