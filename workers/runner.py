"""Running RQ workers: as their own process (``relais worker``) or as threads inside ``relais run``.

On embedded defaults one process owns the local stores (SQLite, Qdrant's local path), so the
worker runs in threads of the API process. With server URLs for PostgreSQL, Redis and Qdrant,
any number of ``relais worker`` processes run side by side.
"""

from __future__ import annotations

import threading
from typing import Any

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.worker.base import BaseWorker

from core.queue import all_queues


class ThreadWorker(SimpleWorker):
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


def make_worker(*, name: str | None = None, threaded: bool = False) -> BaseWorker:
    queues = all_queues()
    worker_class: type[BaseWorker] = ThreadWorker if threaded else Worker
    return worker_class(queues, connection=queues[0].connection, serializer=JSONSerializer, name=name)


class BackgroundWorkers:
    """``count`` worker threads that run until :meth:`stop`."""

    def __init__(self, count: int = 1, *, with_scheduler: bool = True) -> None:
        self._workers: list[BaseWorker] = []
        self._threads: list[threading.Thread] = []
        self._count = count
        self._with_scheduler = with_scheduler

    def start(self) -> None:
        for index in range(self._count):
            worker = make_worker(threaded=True)
            scheduler = self._with_scheduler and index == 0
            thread = threading.Thread(
                target=self._run, args=(worker, scheduler), name=f"relais-worker-{index}", daemon=True
            )
            self._workers.append(worker)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _run(worker: BaseWorker, with_scheduler: bool) -> None:
        worker.work(with_scheduler=with_scheduler, logging_level="WARNING")

    def stop(self, timeout: float = 5.0) -> None:
        """Ask each worker to stop after its job; the daemon threads end with the process anyway."""
        for worker in self._workers:
            if isinstance(worker, ThreadWorker):
                worker.stop_soon()
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self) -> BackgroundWorkers:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
