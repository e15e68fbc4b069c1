"""What one RQ job costs Relais before it does any work: enqueue and run no-op jobs, against RQ's and Redis's floors.

    python -m bench.job_overhead [--jobs 3000]

Every background job (an inbound text's drain, analysis and reply; a campaign's send batches) pays
a fixed price in processor time: enqueueing it, and the worker's bookkeeping around it. On a 2-core
machine that price comes out of the same budget as the work, so it is measured here alone, on jobs
that do nothing (:func:`noop`).

Layout: a redis-server of the benchmark's own (a free port, no persistence), so its processor time
and its command and read counters belong to this run alone.

Steps, each timed on ``--jobs`` jobs:

* **enqueue** (this process): ``core.queue.enqueue`` with a deterministic job id, the default retry
  policy and queue ``default``, as every Relais job is queued (the dead-letter check, the duplicate-id
  rule, RQ's enqueue script). Limits: RQ's ``Queue.enqueue`` with no options, and a bare ``LPUSH``.
* **run**: ``relais worker`` (the keeper and its resident worker process, the production path:
  poison counting, heartbeats, re-registration, the keeper's pipe) draining the queued jobs.
  Limits: RQ's plain ``SimpleWorker`` (``rq worker -w rq.worker.SimpleWorker``) on the same jobs,
  and a bare ``BRPOP`` loop in a process of its own. Each consumer is started and left to warm up
  (models, imports, registration) until it blocks on Redis, then stopped (SIGSTOP) while the jobs
  are queued and resumed (SIGCONT) to start the clock: start-up is not in the figure.

Not in the path: any job's own work, PostgreSQL, the API, the periodic scheduler (no
``--with-scheduler``), delayed jobs and retries (no job fails).

Printed per step: jobs/s, processor milliseconds per job of the client (this process, or the
consumer's process group) and of Redis, Redis commands per job (those run by Lua scripts included)
and Redis reads per job (≈ round trips), then the path's ratios to each limit.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.cpu import snapshot
from bench.fake_provider import free_port
from bench.stack import RELAIS, REPO, load_average

QUEUE = "default"
NOOP = "bench.job_overhead.noop"
RQ = str(Path(sys.executable).parent / "rq")
POLL_SECONDS = 0.02


def noop() -> None:
    """The job: nothing, so everything measured is the queue's own cost."""


@dataclass(frozen=True)
class Step:
    """One timed step: wall seconds, processor seconds of the client and of Redis, Redis commands and reads."""

    jobs: int
    seconds: float
    client_cpu: float
    redis_cpu: float
    commands: int
    reads: int

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_per_job(self) -> float:
        return (self.client_cpu + self.redis_cpu) / self.jobs

    def line(self, label: str) -> str:
        return (f"  {label:<44} {self.rate:>8,.0f} jobs/s  client {1000 * self.client_cpu / self.jobs:6.3f} ms/job  "
                f"redis {1000 * self.redis_cpu / self.jobs:6.3f} ms/job  "
                f"{self.commands / self.jobs:5.1f} commands/job  {self.reads / self.jobs:5.1f} reads/job")


class RedisServer:
    """A redis-server of this run's own: its pid for processor time, INFO for its counters."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.client = redis.Redis.from_url(self.url)
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                if self.client.ping():
                    break
            time.sleep(0.05)
        self.version = str(self.client.info("server")["redis_version"])

    def counters(self) -> tuple[int, int]:
        """Commands processed and reads so far (an INFO counts among the next call's commands, and its own reads)."""
        stats = self.client.info("stats")
        return int(stats["total_commands_processed"]), int(stats["total_reads_processed"])

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(30)


@contextmanager
def measured(server: RedisServer, consumer: int | None = None) -> Iterator[Callable[[int, int, int], Step]]:
    """Readings around a step whose client is ``consumer``'s session, else this process; the yielded function
    closes it: ``finish(jobs, own_commands, own_reads)`` subtracts what the benchmark sent while waiting."""
    sessions = {"redis": server.process.pid, **({"consumer": consumer} if consumer is not None else {})}
    commands, reads = server.counters()
    before, cpu, started = snapshot(sessions, "-"), time.process_time(), time.perf_counter()

    def finish(jobs: int, own_commands: int = 0, own_reads: int = 0) -> Step:
        seconds, client = time.perf_counter() - started, time.process_time() - cpu
        after = snapshot(sessions, "-")
        commands_after, reads_after = server.counters()
        if consumer is not None:
            client = after["consumer"] - before["consumer"]
        return Step(jobs=jobs, seconds=seconds, client_cpu=client, redis_cpu=after["redis"] - before["redis"],
                    commands=commands_after - commands - 1 - own_commands,  # the INFO opening the step
                    reads=reads_after - reads - 1 - own_reads)  # the INFO closing it

    yield finish


def enqueue_path(jobs: int, prefix: str) -> None:
    from core.queue import JobSpec, enqueue

    for n in range(jobs):
        if enqueue(JobSpec(func=NOOP, job_id=f"noop:{prefix}:{n}", queue=QUEUE)) is None:
            raise SystemExit(f"job noop:{prefix}:{n} was not queued")


def enqueue_rq(jobs: int, url: str) -> None:
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue("bench-limit", connection=redis.Redis.from_url(url), serializer=JSONSerializer)
    for _ in range(jobs):
        queue.enqueue(NOOP)


def push_raw(jobs: int, client: redis.Redis, key: str) -> None:
    for n in range(jobs):
        client.lpush(key, n)


def _environment(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update({
        "RELAIS_DATA_DIR": str(data_dir), "RELAIS_REDIS_URL": redis_url, "RELAIS_LOG_LEVEL": "WARNING",
        "RELAIS_LOG_JSON": "false",
        "RELAIS_ENCRYPTION_KEYS": "b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "RELAIS_BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "RELAIS_SECRET_KEY": secrets.token_hex(24),
        # this checkout's modules first (a worker imports the job by its dotted path)
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    })  # fmt: skip
    return env


def _blocked_clients(client: redis.Redis) -> int:
    """Clients waiting in a blocking pop (a consumer ready for work)."""
    return sum(1 for c in client.client_list() if c.get("cmd") in {"blpop", "brpop", "blmove"})


class Consumer:
    """A consumer process in a session of its own: started, warmed up until it blocks on Redis, paused."""

    def __init__(self, command: list[str], env: dict[str, str], server: RedisServer, *, timeout: float) -> None:
        self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while _blocked_clients(server.client) == 0:
            if self.process.poll() is not None:
                raise SystemExit(f"{' '.join(command)} exited with {self.process.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} was not waiting for jobs after {timeout:.0f} s")
            time.sleep(0.1)
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGINT (a warm shutdown for the workers), SIGKILL after 30 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _wait_drained(client: redis.Redis, queue_key: str, last_job: str | None, timeout: float) -> int:
    """Poll until ``queue_key`` is empty and ``last_job`` (when given) has ended; returns the polls made.

    One worker takes the queue in order, so its last job ending means every job ended. A finished job
    whose result is not kept is gone: that counts as ended."""
    deadline, polls = time.monotonic() + timeout, 0
    while True:
        pipe = client.pipeline(transaction=False)
        pipe.llen(queue_key)
        if last_job is not None:
            pipe.hget(f"rq:job:{last_job}", "status")
        answers = pipe.execute()
        polls += 1
        waiting, status = answers[0], (answers[1] if last_job is not None else b"finished")
        if waiting == 0 and status in {None, b"finished", b"failed"}:
            return polls
        if time.monotonic() > deadline:
            raise SystemExit(f"{waiting} jobs still queued after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def run_consumer(server: RedisServer, command: list[str], env: dict[str, str], fill: Callable[[], str | None],
                 queue_key: str, jobs: int, *, timeout: float) -> Step:
    """Start ``command``, pause it once it waits for work, ``fill`` the queue (returns the last job's id),
    resume it and time it until the queue is drained."""
    consumer = Consumer(command, env, server, timeout=timeout)
    try:
        last_job = fill()
        with measured(server, consumer.process.pid) as finish:
            consumer.resume()
            polls = _wait_drained(server.client, queue_key, last_job, timeout)
            cmds_per_poll = 2 if last_job is not None else 1
            return finish(jobs, polls * cmds_per_poll, polls)
    finally:
        consumer.stop()


def _failed_jobs(client: redis.Redis) -> int:
    return int(client.zcard(f"rq:failed:{QUEUE}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000, help="no-op jobs per step")
    parser.add_argument("--start-timeout", type=float, default=300, help="seconds a consumer may take to start")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="relais-bench-jobs-"))
    server = RedisServer(base)
    try:
        env = _environment(base / "data", server.url)
        os.environ.update({k: v for k, v in env.items() if k.startswith("RELAIS_")})
        from core.redis import get_redis
        from core.settings import get_settings

        get_redis(get_settings()).ping()  # this process's connection, before any timing
        print(f"{args.jobs:,} no-op jobs per step; redis-server {server.version} of its own on port {server.port}; "
              f"{load_average()}")  # fmt: skip
        steps: dict[str, Step] = {}

        def timed(name: str, action: Callable[[], None]) -> None:
            with measured(server) as finish:
                action()
                steps[name] = finish(args.jobs)

        timed("enqueue", lambda: enqueue_path(args.jobs, "path"))
        server.client.delete(f"rq:queue:{QUEUE}")  # these were only for the enqueue's cost
        timed("enqueue rq", lambda: enqueue_rq(args.jobs, server.url))
        timed("enqueue raw", lambda: push_raw(args.jobs, server.client, "bench:raw:enqueue"))
        server.client.flushdb()

        queue_key = f"rq:queue:{QUEUE}"

        def fill(prefix: str) -> Callable[[], str]:
            def queue_jobs() -> str:
                enqueue_path(args.jobs, prefix)
                return f"noop-{prefix}-{args.jobs - 1}"
            return queue_jobs

        steps["run"] = run_consumer(server, [RELAIS, "worker"], env, fill("run"), queue_key, args.jobs,
                                    timeout=args.start_timeout)  # fmt: skip
        failed = _failed_jobs(server.client)
        rq_worker = [RQ, "worker", "-w", "rq.worker.SimpleWorker", "--serializer", "rq.serializers.JSONSerializer",
                     "--url", server.url, "--logging_level", "WARNING",
                     "transactional", "conversational", "inbound", "marketing", "default"]  # fmt: skip
        steps["run rq"] = run_consumer(server, rq_worker, env, fill("rq"), queue_key, args.jobs,
                                       timeout=args.start_timeout)  # fmt: skip
        failed += _failed_jobs(server.client)
        raw_key = "bench:raw:run"
        raw_consumer = [sys.executable, "-c", "import redis, sys\nr = redis.Redis.from_url(sys.argv[1])\n"
                        "while True:\n    r.brpop([sys.argv[2]])", server.url, raw_key]  # fmt: skip

        def fill_raw() -> None:
            push_raw(args.jobs, server.client, raw_key)

        steps["run raw"] = run_consumer(server, raw_consumer, env, fill_raw, raw_key, args.jobs,
                                        timeout=args.start_timeout)  # fmt: skip
        if failed:
            raise SystemExit(f"{failed} no-op jobs failed")
        _print(steps)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _print(steps: dict[str, Step]) -> None:
    print("enqueue (this process is the client)")
    print(steps["enqueue"].line("core.queue.enqueue (path)"))
    print(steps["enqueue rq"].line("limit: RQ Queue.enqueue, no options"))
    print(steps["enqueue raw"].line("limit: LPUSH"))
    print("run (the consumer's processes are the client)")
    print(steps["run"].line("relais worker: keeper + resident worker (path)"))
    print(steps["run rq"].line("limit: rq worker -w SimpleWorker"))
    print(steps["run raw"].line("limit: BRPOP loop"))
    for kind in ("enqueue", "run"):
        path = steps[kind]
        for limit in ("rq", "raw"):
            other = steps[f"{kind} {limit}"]
            print(f"{kind} path / {limit} limit: jobs/s {path.rate / other.rate:.2f}, "
                  f"processor time per job {_times(path.cpu_per_job, other.cpu_per_job)} "
                  f"({1000 * path.cpu_per_job:.3f} vs {1000 * other.cpu_per_job:.3f} ms)")  # fmt: skip
    both = steps["enqueue"].cpu_per_job + steps["run"].cpu_per_job
    bound = f"{(os.cpu_count() or 1) / both:,.0f}" if both > 0 else "n/a"
    print(f"a job's fixed cost on the path: {1000 * both:.3f} ms of processor time (enqueue + run, Redis included) "
          f"= {bound} jobs/s if it had every core of this machine")  # fmt: skip


def _times(path: float, limit: float) -> str:
    """``x2.4``; ``n/a`` when the limit's processor time is below the clock's tick (a tiny run)."""
    return f"x{path / limit:.1f}" if limit > 0 else "n/a"


if __name__ == "__main__":
    main()
