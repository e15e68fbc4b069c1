"""Running RQ workers: as their own process (``relais worker``) or as threads inside ``relais run``.

On embedded defaults one process owns the local stores (SQLite, Qdrant's local path), so the
worker runs in threads of the API process. With server URLs for PostgreSQL, Redis and Qdrant,
any number of ``relais worker`` processes run side by side.

``relais worker`` runs its jobs one after another in one long-lived process (:class:`ResidentWorker`,
kept by :mod:`workers.keeper`), so what a job loads stays loaded for the next: the agent's models,
the database pool, the provider's TLS connections. Forking a work-horse per job re-created all of
them for every job (an agent reply cost a model load).

A worker outlives its Redis: :class:`Supervisor` waits for Redis to answer again (with backoff) and
starts a fresh worker, instead of exiting with the first refused connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import redis
import structlog
from rq import Queue, SimpleWorker, worker_registration
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.rate_limit import release_slot
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import now
from rq.worker.base import BaseWorker, WorkerStatus

from core import poison
from core.dequeue import PrefetchingQueue
from core.queue import all_queues

log = structlog.get_logger("relais.worker")

DEFAULT_JOB_TIMEOUT = 180  # RQ's, for a job enqueued without one

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0

HEARTBEAT_SECONDS = 30  # RQ's job_monitoring_interval: a running job's worker re-registers this often

_owner = ""  # in a resident worker's process: the name of the worker running its jobs


def claim_owner() -> str:
    """The worker that vouches for claims made by the running job ("" in ``relais run``'s threads).

    A :class:`ResidentWorker` re-asserts its registration every 30 s while its job runs, so its name
    lets ``delivery.recovery`` release the claims of a worker that is gone before the full lease.
    """
    return _owner


#: a standalone heartbeat this soon after the last one that asked Redis whether the worker is still
#: registered is skipped (RQ's loop sends three per job, before the wait, after it, after the job, besides
#: those in its pipelines, each four round trips with the re-registration check); so is a suspension check
HEARTBEAT_SECONDS_APART = 1.0


class RelaisWorkerMixin(BaseWorker):
    """What every Relais worker adds to RQ's: poison jobs are retired, registration survives Redis, and a
    job costs three round trips to Redis where RQ's loop took twenty-five.

    * Each start of a job id is counted (:mod:`core.poison`), also when the previous start killed
      the worker; a job past its deaths or starts goes to the failed-jobs registry unrun, with why.
    * RQ's dequeue loop reconnects by itself after an outage but never registers again, so a Redis
      restarted empty would forget the worker (invisible to operators, and its jobs' claims would
      look abandoned to ``delivery.recovery``); each heartbeat re-registers a forgotten worker.
    * Per job: the job popped with its hash (:class:`core.dequeue.PrefetchingQueue`; RQ's ``BLPOP``
      when every queue is empty), one pipeline to start it (the start's count, RQ's execution record,
      the job and the worker marked started and busy, a heartbeat), one to end it (RQ's success
      bookkeeping, the count's end, the worker idle); the re-registration check and RQ's suspension
      check at most once a second. Relais enqueues no dependent or repeating jobs
      (:class:`core.queue.JobSpec` has neither), so the success skips RQ's watch of the job's
      dependents (three round trips).
    """

    queue_class = PrefetchingQueue
    _start: poison.Attempts | None = None
    _registration_checked = -HEARTBEAT_SECONDS_APART  # monotonic time of the last heartbeat that checked it
    _suspension_checked = -HEARTBEAT_SECONDS_APART

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        reason = self._start.verdict() if self._start is not None else None
        if reason is None:
            self.perform_job(job, queue, execution)
        else:
            self.log.warning("Worker %s: job %s %s", self.name, job.id, reason)
            job.retries_left = 0  # retired now: not one more retry
            job.ended_at = now()
            poison.mark_dead(self.connection, job.id)
            self.handle_job_failure(job, queue, exc_string=reason, execution=execution)
        self.set_state(WorkerStatus.IDLE)

    def prepare_execution(self, job: Job) -> Execution:
        """RQ's execution record and busy state, in one round trip with the start's count and what RQ's
        ``prepare_job_execution`` writes (the worker's heartbeat, the job started by this worker)."""
        with self.connection.pipeline() as pipe:
            ttl = self.get_heartbeat_ttl(job)
            first = poison.count_start(pipe, job.id)
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            if len(self.queues) == 1:  # RQ's single-queue wait parks the id on an intermediate list
                pipe.lrem(self.queue_class(job.origin, connection=self.connection).intermediate_queue_key, 1, job.id)
            self._start = poison.counted(pipe.execute(), first)
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Written by :meth:`prepare_execution`'s round trip already."""

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ writes the job's last heartbeat here, a round trip of its own just before the end's
        pipeline saves the job (or deletes it): the time is kept for that save."""
        job.ended_at = job.last_heartbeat = now()

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any, execution: Execution) -> None:
        """RQ's success bookkeeping (worker statistics, the result kept for ``result_ttl`` or the job
        deleted, the execution removed) with the start count's end and the worker idle, in one round trip."""
        with self.connection.pipeline() as pipe:
            self.increment_successful_job_count(pipeline=pipe)
            if job.started_at and job.ended_at:
                self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
            if result_ttl != 0:
                job._handle_success(result_ttl, pipeline=pipe, worker_name=self.name, execution_id=execution.id,
                                    execution_started_at=execution.created_at, execution_ended_at=job.ended_at)
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            if result_ttl == 0 and not job.group_id and not job.has_rate_limit:
                # RQ's delete first reads back the job's status and each of its executions (seven round
                # trips) to take it out of registries a job that just ended is not in: its keys go at once
                pipe.delete(job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id),
                            job.execution_registry.key)  # fmt: skip
            else:
                job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
            poison.count_end(pipe, job.id, succeeded=True)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()
        job._status = JobStatus.FINISHED
        release_slot(job)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        succeeded = super().perform_job(job, queue, execution)
        if not succeeded:
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):  # at worst it later counts as a death
                poison.record_end(self.connection, job.id, succeeded=False)
        return succeeded

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's (``rq suspend`` holds the workers), at most every :data:`HEARTBEAT_SECONDS_APART`: RQ asks
        before each job, a round trip per job."""
        if time.monotonic() - self._suspension_checked < HEARTBEAT_SECONDS_APART:
            return
        super().check_for_suspension(burst)
        self._suspension_checked = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's, without the round trip when the state is already so (RQ marks an idle worker idle
        again before each wait)."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat and the re-registration check, in one round trip, at most every
        :data:`HEARTBEAT_SECONDS_APART` outside RQ's own pipelines. A skipped one loses nothing: the
        suspension check before each wait carries a heartbeat, and an outage spaces two heartbeats further
        apart (RQ waits a second before trying Redis again), so the first after it checks the registration."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if time.monotonic() - self._registration_checked < HEARTBEAT_SECONDS_APART:
            return
        with self.connection.pipeline() as pipe:
            pipe.sismember(worker_registration.REDIS_WORKER_KEYS, self.key)
            super().heartbeat(timeout, pipe)
            registered = pipe.execute()[0]
        self._registration_checked = time.monotonic()
        if not registered:
            with self.connection.pipeline() as registering:
                registering.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, registering)
                super().heartbeat(timeout, registering)
                registering.execute()


class ResidentWorker(RelaisWorkerMixin, SimpleWorker):
    """``relais worker``'s worker: each job in this process's main thread, timed out by SIGALRM.

    While a job runs, a thread renews the registration and the job's execution every 30 s, as a
    forking worker's parent does for its work-horse: they expire within 90 s of this process dying
    or freezing. Each job's start and end are told to the keeper (:mod:`workers.keeper`), which
    kills a job stuck past its timeout and retires the job of a process that died under it.
    """

    notify: Callable[[str], None] | None = None  # the keeper's pipe
    _heartbeats: _Heartbeats | None = None

    def _tell(self, line: str) -> None:
        if self.notify is not None:
            self.notify(line)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        global _owner
        _owner = self.name
        timeout = job.timeout if job.timeout and job.timeout > 0 else DEFAULT_JOB_TIMEOUT
        self._tell(f"job {job.id} {queue.name} {time.time() + timeout:.0f}")
        heartbeats = self._heartbeats = self._heartbeats or _Heartbeats(self)
        heartbeats.begin(job, execution)
        try:
            return super().perform_job(job, queue, execution)
        finally:
            heartbeats.end()
            self._tell("idle")

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            if self._heartbeats is not None:
                self._heartbeats.close()


class _Heartbeats:
    """One thread for a worker's life renewing its running job's heartbeats every 30 s.

    A thread started and joined per job cost 0.2 ms of processor time and 0.7 ms of wall time per job on
    the loaded 2-core machine. :meth:`end` returns once no renewal is under way, as the join did: none
    is sent for a job after it ended.
    """

    def __init__(self, worker: BaseWorker) -> None:
        self._worker = worker
        self._changed = threading.Condition()
        self._running: tuple[Job, Execution] | None = None
        self._renewing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="relais-heartbeat", daemon=True)
        self._thread.start()

    def begin(self, job: Job, execution: Execution) -> None:
        with self._changed:
            self._running = (job, execution)
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self._running = None
            self._changed.notify_all()
            self._changed.wait_for(lambda: not self._renewing)

    def close(self) -> None:
        """Let the thread go (the worker is leaving; the supervisor may start another)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _moved_on(self, held: tuple[Job, Execution]) -> bool:
        return self._running is not held

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._running is not None or self._closed)
                running = self._running
                if self._closed:
                    return
                if running is None or self._changed.wait_for(partial(self._moved_on, running), HEARTBEAT_SECONDS):
                    continue  # that job ended (another may have begun): start counting again
                self._renewing = True
            try:
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):  # the job's end reports it
                    self._worker.maintain_heartbeats(*running)
            finally:
                with self._changed:
                    self._renewing = False
                    self._changed.notify_all()


#: how long an idle worker thread waits on the queues before it looks at its stop flag again
STOP_CHECK_SECONDS = 1


class ThreadWorker(RelaisWorkerMixin, SimpleWorker):
    """A SimpleWorker safe to run outside the main thread (no signals, timer-based timeouts)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals can only be handled by the main thread; the owner stops us with ``stop_soon``."""

    def stop_soon(self) -> None:
        """Finish the current job, then leave the loop (RQ's ``request_stop`` installs signal handlers,
        which only the main thread may do)."""
        self._stop_requested = True
        if self.scheduler:
            self.stop_scheduler()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's wait for a job, in slices of :data:`STOP_CHECK_SECONDS`, returning ``None`` once asked to stop.

        RQ blocks ``worker_ttl - 15`` s (405 s) per wait and looks at a stop request only between
        jobs, so an idle thread held ``relais run``'s shutdown for the whole join timeout (5 s per
        thread, ~20 s in all, while the embedded Redis went away under the threads still waiting).
        """
        if timeout is None or max_idle_time is not None:  # burst, or RQ's own idle limit: as RQ does
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            found = super().dequeue_job_and_maintain_ttl(STOP_CHECK_SECONDS, max_idle_time=STOP_CHECK_SECONDS)
            if found is not None:
                return found
        return None


def worker_name() -> str:
    """A fresh worker name, short enough to be stamped on the claims its jobs make (``delivery.store``)."""
    return "w" + uuid.uuid4().hex[:11]


def make_worker(*, name: str | None = None, threaded: bool = False,
                notify: Callable[[str], None] | None = None) -> BaseWorker:
    """A worker over every queue: a :class:`ThreadWorker`, or a :class:`ResidentWorker` telling
    ``notify`` its name and each job's start and end (see :mod:`workers.keeper`)."""
    queues = all_queues()
    name = name or worker_name()
    if threaded:
        return ThreadWorker(queues, connection=queues[0].connection, serializer=JSONSerializer, name=name)
    worker = ResidentWorker(queues, connection=queues[0].connection, serializer=JSONSerializer, name=name)
    if notify is not None:
        worker.notify = notify
        notify(f"worker {name}")
    return worker


def _reachable(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


class Supervisor:
    """Runs one worker after another until asked to stop, surviving Redis outages.

    RQ's work loop quits on most Redis errors (a heartbeat, the registries' maintenance, the
    teardown). The supervisor then retries Redis with exponential backoff (1 s doubling to 30 s)
    and starts a new worker under a new name: the old registration
    may be gone with the data of a restarted Redis, or linger until its TTL while a new one is used.
    """

    def __init__(self, *, threaded: bool = False, notify: Callable[[str], None] | None = None) -> None:
        self._threaded = threaded
        self._notify = notify
        self._stop = threading.Event()
        self.worker: BaseWorker | None = None

    def run(self, *, burst: bool = False, with_scheduler: bool = False, logging_level: str = "INFO") -> None:
        """Work until stopped (SIGINT/SIGTERM, :meth:`stop_soon`), or, with ``burst``, until the queues are empty."""
        delay = FIRST_RETRY_SECONDS
        try:
            while not self._stop.is_set():
                worker = self.worker = make_worker(threaded=self._threaded, notify=self._notify)
                try:
                    worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("worker lost Redis", worker=worker.name, error=str(exc))
                if self._stop_requested(worker):
                    return
                if _reachable(worker.connection):
                    if burst:
                        return
                    delay = FIRST_RETRY_SECONDS  # stopped for another reason: start again, calmly
                log.warning("worker restarting", after_seconds=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
        except StopRequested:  # SIGINT/SIGTERM while waiting for Redis (RQ's handler raises it)
            return

    def stop_soon(self) -> None:
        """Let the current job finish, then return from :meth:`run` (threads; processes use signals)."""
        self._stop.set()
        if isinstance(self.worker, ThreadWorker):
            self.worker.stop_soon()

    def _stop_requested(self, worker: BaseWorker) -> bool:
        asked = getattr(worker, "_stop_requested", False) or getattr(worker, "_shutdown_requested_date", None)
        return self._stop.is_set() or bool(asked)


class BackgroundWorkers:
    """``count`` worker threads that run until :meth:`stop`."""

    def __init__(self, count: int = 1, *, with_scheduler: bool = True) -> None:
        self._workers: list[Supervisor] = []
        self._threads: list[threading.Thread] = []
        self._count = count
        self._with_scheduler = with_scheduler

    def start(self) -> None:
        for index in range(self._count):
            worker = Supervisor(threaded=True)
            scheduler = self._with_scheduler and index == 0
            thread = threading.Thread(
                target=self._run, args=(worker, scheduler), name=f"relais-worker-{index}", daemon=True
            )
            self._workers.append(worker)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _run(worker: Supervisor, with_scheduler: bool) -> None:
        worker.run(with_scheduler=with_scheduler, logging_level="WARNING")

    def stop(self, timeout: float = 5.0) -> None:
        """Ask each worker to stop after its job; the daemon threads end with the process anyway."""
        for worker in self._workers:
            worker.stop_soon()
        for thread in self._threads:
            thread.join(timeout)

    def alive(self) -> list[str]:
        """Names of the worker threads still running."""
        return [thread.name for thread in self._threads if thread.is_alive()]

    def __enter__(self) -> BackgroundWorkers:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
