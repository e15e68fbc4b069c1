"""``relais worker``: a keeper process and the one long-lived worker process it starts and watches.

The worker process (:class:`workers.runner.ResidentWorker`) loads the agent's models once and runs
job after job. What forking a work-horse per job used to guarantee, the keeper keeps:

* **a job that kills its process** (a segfault, the OOM killer, ``os._exit``): the keeper hands the
  job to RQ's abandoned-job path at once (retried if it has retries left, else failed), deletes the
  dead worker's registration, so ``delivery.recovery`` releases its claims after its grace period,
  and starts a new worker process. :mod:`core.poison` counts the death at the job's next start.
* **a job that freezes its process** past its timeout plus a minute (a C call holding the GIL,
  which SIGALRM cannot interrupt): the keeper kills the process, then as above.

The worker process is a fresh interpreter (``python -m workers.keeper``), not a fork: the keeper's
threads (the periodic scheduler) may hold a lock at any instant (redis-py's pool lock: a child forked
then hung on its first Redis call). It tells the keeper its worker's name and each job's start (id,
queue, deadline) and end over a pipe. SIGTERM/SIGINT to the keeper is passed on once: the job in
hand finishes (RQ's warm shutdown), then both exit. A worker process whose keeper vanished stops the
same way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from types import FrameType
from typing import Any

import redis
import structlog
from rq import worker_registration
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker

from core.queue import get_queue
from core.redis import get_redis
from core.settings import Settings, get_settings
from workers.runner import ResidentWorker, Supervisor

log = structlog.get_logger("relais.worker")

#: beyond its timeout a job gets this long to end (RQ's own margin before it kills a work-horse)
FROZEN_AFTER_SECONDS = 60
RESTART_DELAY_SECONDS = 1.0


def warm_up_agent(settings: Settings) -> None:
    """Load the agent's models and knowledge base now, so the first customer does not wait for it."""
    from agent.runtime import get_runtime

    try:
        get_runtime(settings).pipeline()
    except Exception:  # the inbound job reports the same problem with its context
        log.exception("agent warm-up failed")


@dataclass
class _Running:
    """What the worker process last told: its worker's name and the job in hand."""

    worker: str = ""
    job_id: str = ""
    queue: str = ""
    deadline: float = 0.0

    def hear(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "worker":
            self.worker = rest
        elif kind == "job":
            self.job_id, self.queue, deadline = rest.split(" ")
            self.deadline = float(deadline)
        elif kind == "idle":
            self.job_id, self.queue, self.deadline = "", "", 0.0


def retire_abandoned(job_id: str, queue_name: str) -> None:
    """Hand a job whose process died under it to RQ's abandoned-job path now, not after its TTL:
    retried if it has retries left, else moved to the failed-jobs registry."""
    queue = get_queue(queue_name)
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return
    registry = StartedJobRegistry(queue=queue)
    executions = [execution.composite_key for execution in job.get_executions()]
    if executions:
        queue.connection.zadd(registry.key, dict.fromkeys(executions, 0), xx=True)
    registry.cleanup(timestamp=1)  # only the entries just expired


def forget_worker(client: redis.Redis, name: str) -> None:
    """Delete a dead worker's registration, so its claims no longer look vouched for."""
    key = BaseWorker.redis_worker_namespace_prefix + name
    worker = ResidentWorker.find_by_key(key, connection=client, serializer=JSONSerializer)
    with client.pipeline() as pipe:
        if worker is not None:
            worker_registration.unregister(worker, pipe)
        pipe.delete(key)
        pipe.execute()


class Keeper:
    """Starts the worker process, watches it, and starts another when it dies (see the module doc)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None

    def run(self, *, burst: bool = False, with_scheduler: bool = False, logging_level: str = "INFO") -> None:
        """Keep a worker process until stopped, or, with ``burst``, until one empties the queues."""
        get_redis(get_settings())  # an embedded Redis belongs to this process, which outlives its workers
        previous = self._install_signal_handlers()
        try:
            while True:
                code = self._run_child(burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)
                if code == 0 or self._stop.is_set():
                    return
                log.warning("worker process died; starting another", exit_code=code)
                self._stop.wait(RESTART_DELAY_SECONDS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()
        if self._child is not None:
            with contextlib.suppress(ProcessLookupError):
                self._child.send_signal(signal.SIGTERM)  # RQ ignores the same signal twice within a second

    def _run_child(self, *, burst: bool, with_scheduler: bool, logging_level: str) -> int:
        reader, writer = os.pipe()
        command = [sys.executable, "-m", "workers.keeper", "--notify-fd", str(writer), "--logging-level",
                   logging_level, *(["--burst"] if burst else []), *(["--with-scheduler"] if with_scheduler else [])]
        # the same modules as here (a test's jobs included), whatever the current directory
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self._child = child = subprocess.Popen(command, pass_fds=(writer,), env=env)
        finally:
            os.close(writer)
        try:
            running, code = self._watch(child, reader)
        finally:
            self._child = None
            os.close(reader)
        if code != 0:
            self._bury(running, code)
        return code

    @staticmethod
    def _watch(child: subprocess.Popen[bytes], reader: int) -> tuple[_Running, int]:
        running, pending = _Running(), b""
        while True:
            if select.select([reader], [], [], 1.0)[0]:
                pending += os.read(reader, 65536)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    running.hear(line.decode())
            code = child.poll()
            if code is not None:
                return running, code
            if running.job_id and time.time() > running.deadline + FROZEN_AFTER_SECONDS:
                log.error("job froze its worker process past its timeout; killing it", job_id=running.job_id)
                child.kill()
                return running, child.wait()

    @staticmethod
    def _bury(running: _Running, code: int) -> None:
        try:
            if running.job_id:
                log.warning("job abandoned by its dead worker process", job_id=running.job_id, exit_code=code)
                retire_abandoned(running.job_id, running.queue)
            if running.worker:
                forget_worker(get_redis(get_settings()), running.worker)
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # RQ's own cleanup catches up after the TTL
            log.warning("could not retire the dead worker's job now", error=str(exc))


def _worker_process(argv: list[str] | None = None) -> int:
    """The worker process (``python -m workers.keeper``): warm up, then work until stopped."""
    from core.runtime import bootstrap

    parser = argparse.ArgumentParser()
    parser.add_argument("--notify-fd", type=int, required=True)
    parser.add_argument("--logging-level", default="INFO")
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--with-scheduler", action="store_true")
    args = parser.parse_args(argv)
    settings = bootstrap()
    threading.Thread(target=_follow_keeper, args=(os.getppid(),), name="relais-keeper-watch", daemon=True).start()
    if not args.burst:
        warm_up_agent(settings)

    def tell(line: str) -> None:
        os.write(args.notify_fd, line.encode() + b"\n")

    Supervisor(notify=tell).run(burst=args.burst, with_scheduler=args.with_scheduler, logging_level=args.logging_level)
    return 0


def _follow_keeper(keeper: int) -> None:
    """Stop this worker process (warm shutdown) if its keeper is gone."""
    while os.getppid() == keeper:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _main() -> None:
    """Run the worker process, then leave without the exit hooks, as a work-horse does: what this
    process shares with its keeper (an embedded Redis) belongs to the keeper."""
    code = 1
    try:
        code = _worker_process()
    except SystemExit as stop:  # RQ's cold shutdown
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _main()
