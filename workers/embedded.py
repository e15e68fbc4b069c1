"""The job workers and scheduler that ``relais run`` hosts inside the API process.

On embedded defaults one process must own the local stores (SQLite file, Qdrant local path), so
``cli`` hands :func:`in_process` to ``api.app.create_app`` as the app's background: the API never
imports ``workers`` itself (the import contract in ``.importlinter``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.settings import Settings
from workers.keeper import warm_up_agent
from workers.runner import BackgroundWorkers
from workers.scheduler import PeriodicScheduler


def _warm_up_agent_in_background(settings: Settings) -> None:
    """Load the models and knowledge base now, so the first customer does not wait seconds for it."""
    threading.Thread(target=warm_up_agent, args=(settings,), name="relais-agent-warm-up", daemon=True).start()


@contextmanager
def in_process(settings: Settings) -> Iterator[None]:
    """Run ``settings.inbound_worker_threads`` worker threads and the periodic scheduler until exit."""
    _warm_up_agent_in_background(settings)
    # the scheduler thread moves delayed jobs: RQ's own scheduler would fork from a worker thread
    with BackgroundWorkers(settings.inbound_worker_threads, with_scheduler=False), PeriodicScheduler(delayed_jobs=True):
        yield
