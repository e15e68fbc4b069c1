"""``relais run``'s worker threads stop promptly when asked, even while they wait on empty queues."""

from __future__ import annotations

import time

from rq import Worker

from core.queue import all_queues
from core.settings import Settings
from workers.runner import BackgroundWorkers


def test_idle_worker_threads_leave_when_asked(runtime: Settings) -> None:
    connection = all_queues()[0].connection
    workers = BackgroundWorkers(2, with_scheduler=False)
    workers.start()
    deadline = time.monotonic() + 30
    while len(Worker.all(connection=connection)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(Worker.all(connection=connection)) == 2  # both are waiting on the queues
    time.sleep(1.5)  # into a wait on the empty queues, past the first slice
    workers.stop(timeout=3)
    # RQ's own wait lasts worker_ttl - 15 = 405 s: without the slices both threads would still be waiting
    assert workers.alive() == []
    assert Worker.all(connection=connection) == []  # each left the registry on its way out
