"""The periodic scheduler: enqueues each declared ``Periodic`` job once per interval.

Several processes may run it (``relais worker --with-scheduler`` on each host): a Redis
``SET NX`` per (job, time slot) makes sure one slot is enqueued once in the whole deployment.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
from typing import Any

import structlog
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from core.periodic import Periodic
from core.queue import JobSpec, RetryPolicy, all_queues, enqueue
from core.redis import get_redis
from core.schema import DOMAIN_PACKAGES
from core.settings import get_settings

log = structlog.get_logger("relais.scheduler")


def discover_periodic() -> list[Periodic]:
    found: list[Periodic] = []
    for package in DOMAIN_PACKAGES:
        name = f"{package}.tasks"
        if importlib.util.find_spec(package) and importlib.util.find_spec(name):
            found.extend(getattr(importlib.import_module(name), "PERIODIC", ()))
    return found


def tick(periodic: list[Periodic], now: float) -> list[str]:
    """Enqueue every job whose current slot was not claimed yet; returns the job ids enqueued."""
    redis = get_redis(get_settings())
    enqueued = []
    for job in periodic:
        slot = int(now // job.every_seconds)
        claim = f"relais:periodic:{job.name}:{slot}"
        if redis.set(claim, "1", nx=True, ex=max(job.every_seconds * 2, 60)):
            job_id = f"periodic:{job.name}:{slot}"
            enqueue(JobSpec(func=job.func, job_id=job_id, queue=job.queue, retry=RetryPolicy(max=1, intervals=(5,))))
            enqueued.append(job_id)
    return enqueued


class PeriodicScheduler:
    """A daemon thread calling :func:`tick` every second until stopped.

    With ``delayed_jobs``, the same thread also moves due delayed jobs (retries, wake-ups at a
    message's ``not_before``) onto their queues, as RQ's own scheduler does: inside ``relais run``
    RQ's scheduler would fork a process from a worker thread of a multithreaded server, and a fork
    taken while another thread holds the import lock hangs the server.
    """

    def __init__(self, interval: float = 1.0, *, delayed_jobs: bool = False) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relais-scheduler", daemon=True)
        self._jobs = discover_periodic()
        self._delayed_jobs = delayed_jobs

    def _run(self) -> None:
        mover: RQScheduler | None = None
        while not self._stop.is_set():
            try:
                tick(self._jobs, time.time())
                if self._delayed_jobs:
                    mover = mover or RQScheduler([q.name for q in all_queues()], connection=get_redis(get_settings()),
                                                 serializer=JSONSerializer)
                    if mover.acquire_locks(auto_start=False):
                        mover.enqueue_scheduled_jobs()
            except Exception:  # a Redis hiccup must not kill the scheduler thread
                log.exception("periodic tick failed")
                mover = None
            self._stop.wait(self._interval)

    def __enter__(self) -> PeriodicScheduler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
