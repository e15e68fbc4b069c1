"""The production layout the end-to-end benchmarks run on, set up and torn down by :func:`production_stack`.

* a **fresh PostgreSQL database** created for the run on the server of ``--database-url``
  (default 127.0.0.1:5432) and dropped afterwards, brought up by ``relais migrate``;
* **Redis** at ``--redis-url`` (default db 14 on 127.0.0.1:6379), flushed before and after, so
  pick a database index nothing else uses;
* the **fake Vonage provider** (``bench.fake_provider``, its own bare asyncio process over TLS) that
  the real Vonage SDK reaches through ``RELAIS_VONAGE_API_HOST`` / ``REST_HOST``, posting signed
  delivery reports back to ``RELAIS_PUBLIC_URL/webhooks/vonage/status``;
* ``relais run --no-workers`` as the API process on its own port;
* ``workers`` × ``relais worker`` processes, the first ``--with-scheduler``;
* an admin API key made with ``relais apikey create``: everything after set-up goes through the API.

Qdrant: this machine has no Qdrant server, and Qdrant's local mode lets one process own its
folder. With ``own_data_dirs`` (the inbound benchmark, whose workers search the knowledge base)
each process gets its own copy of the data folder taken after set-up (``relais demo load``), so
each worker owns a read-only copy of the same vectors; production shares one Qdrant server
(``RELAIS_QDRANT_URL``). Everything else shared lives in PostgreSQL and Redis.
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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import fake_provider
from bench.cpu import CpuMeter

REPO = Path(__file__).resolve().parents[1]
RELAIS = str(Path(sys.executable).parent / "relais")
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
SIGNATURE_SECRET = "bench-signature-secret"
API_KEY = "bench"
@dataclass
class Stack:
    """A running layout: where the API listens, its admin client, and the Redis the fake counts in."""

    api_port: int
    database_url: str
    redis: redis.Redis
    client: httpx.Client
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cpu_meter(self) -> CpuMeter:
        """A processor-time meter over this layout's processes, its database's backends and Redis."""
        database = make_url(self.database_url).database or ""
        return CpuMeter({name: p.pid for name, p in self.processes.items()}, database)

    def alive(self) -> list[str]:
        """Names of the processes that died (a benchmark stops rather than measure a broken layout)."""
        return [name for name, p in self.processes.items() if p.poll() is not None]


def add_database_arguments(parser: object) -> None:
    """``--database-url`` and ``--database-prefix`` on an argparse parser: the server the fresh database is created
    on, and its name before ``_<random>`` (runs side by side, as the benches' tests do, each know their own)."""
    add = parser.add_argument  # type: ignore[attr-defined]
    add("--database-url", default=DEFAULT_DATABASE, help="PostgreSQL server: a fresh database is created on it")
    add("--database-prefix", default="relais_bench", help="the fresh database's name before _<random>")


def add_store_arguments(parser: object) -> None:
    """The database arguments and ``--sqlite`` (a SQLite file instead of PostgreSQL) on an argparse parser: for the
    benches that run Relais in process on either store (:func:`bench_database`)."""
    add_database_arguments(parser)
    add = parser.add_argument  # type: ignore[attr-defined]
    add("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")


@contextmanager
def bench_database(args: argparse.Namespace) -> Iterator[str]:
    """The run's database from :func:`add_store_arguments`' answers: a SQLite file in a temporary folder, or a fresh
    PostgreSQL database (:func:`fresh_database`); gone afterwards."""
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="relais-bench-db-") as folder:
            yield f"sqlite:///{folder}/relais.db"
    else:
        with fresh_database(args.database_url, args.database_prefix) as url:
            yield url


@contextmanager
def in_process_deployment(args: argparse.Namespace) -> Iterator[str]:
    """A fresh deployment for a bench that runs Relais in this process: its database (:func:`bench_database`), a
    data folder, its settings in the environment, bootstrapped and migrated; yields the database URL."""
    with bench_database(args) as url, tempfile.TemporaryDirectory(prefix="relais-bench-") as data_dir:
        os.environ.update(deployment_settings(Path(data_dir), url))
        from core.runtime import bootstrap  # after the settings: they are read once, at first use
        from core.schema import migrate

        bootstrap()
        migrate(url)
        yield url


def add_common_arguments(parser: object) -> None:
    """The database arguments, ``--redis-url``, ``--workers``, ``--provider-processes`` on an argparse parser."""
    add_database_arguments(parser)
    add = parser.add_argument  # type: ignore[attr-defined]
    add("--redis-url", default=DEFAULT_REDIS, help="a Redis database index of its own (flushed)")
    add("--workers", type=int, default=2, help="relais worker processes (the first runs the scheduler)")
    add("--provider-processes", type=int, default=1, help="processes of the fake provider (one listening socket)")


@contextmanager
def fresh_database(server_url: str, prefix: str = "relais_bench") -> Iterator[str]:
    """A new empty database on ``server_url``'s server for the run (named ``prefix_<random>``), dropped afterwards."""
    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def deployment_settings(data_dir: Path, database_url: str) -> dict[str, str]:
    """A fresh deployment's settings for a bench: its data folder and database, keys of its own,
    warnings only in plain text (the layout's processes, and the benches that run Relais in process)."""
    return {
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_LOG_LEVEL": "WARNING",
        "RELAIS_LOG_JSON": "false",
        "RELAIS_ENCRYPTION_KEYS": "b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "RELAIS_BLIND_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "RELAIS_SECRET_KEY": secrets.token_hex(24),
    }


def _environment(data_dir: Path, database_url: str, redis_url: str, api_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(deployment_settings(data_dir, database_url))
    env.update(
        {
            "RELAIS_REDIS_URL": redis_url,
            "RELAIS_CHANNEL": "vonage",
            "RELAIS_VONAGE_API_KEY": API_KEY,
            "RELAIS_VONAGE_API_SECRET": "bench-secret",
            "RELAIS_VONAGE_SIGNATURE_SECRET": SIGNATURE_SECRET,
            "RELAIS_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return env


def _relais(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([RELAIS, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"relais {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def _own_dir(env: dict[str, str], base: Path, name: str, copy: bool) -> dict[str, str]:
    if not copy:
        return env
    target = base.parent / f"{base.name}-{name}"
    shutil.copytree(base, target)
    return {**env, "RELAIS_DATA_DIR": str(target)}


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group (a worker's work-horse and the RQ scheduler included), SIGKILL after 30 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_healthy(client: httpx.Client, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("relais run exited during start-up")
        try:
            if client.get("/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the API did not answer /healthz within {seconds:.0f} s")


@contextmanager
def production_stack(
    *,
    database_url: str = DEFAULT_DATABASE,
    database_prefix: str = "relais_bench",
    redis_url: str = DEFAULT_REDIS,
    workers: int = 2,
    provider_processes: int = 1,
    own_data_dirs: bool = False,
    setup: Callable[[dict[str, str]], None] | None = None,
) -> Iterator[Stack]:
    """Bring the layout up (``setup(env)`` runs after migration, before any process starts), yield it,
    then stop every process, drop the database and flush Redis."""
    client_redis = redis.Redis.from_url(redis_url)
    client_redis.flushdb()
    base = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    data_dir = base / "data"
    data_dir.mkdir()
    api_port = fake_provider.free_port()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with fresh_database(database_url, database_prefix) as url:
        env = _environment(data_dir, url, redis_url, api_port)
        provider, host, ca_bundle = fake_provider.start(
            directory=base, redis_url=redis_url, processes=provider_processes, signature_secret=SIGNATURE_SECRET
        )
        processes["fake provider"] = provider
        env.update({"RELAIS_VONAGE_API_HOST": host, "RELAIS_VONAGE_REST_HOST": host})
        env["REQUESTS_CA_BUNDLE"] = str(ca_bundle)
        client = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=60)
        try:
            _relais(env, "migrate")
            key = _relais(env, "apikey", "create", "--role", "admin", "--name", "bench").strip().splitlines()[-1]
            client.headers["Authorization"] = f"Bearer {key}"
            if setup is not None:
                setup(env)
            processes["api"] = subprocess.Popen(
                [RELAIS, "run", "--no-workers", "--port", str(api_port)],
                env=_own_dir(env, data_dir, "api", own_data_dirs), cwd=REPO, stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
            for index in range(workers):
                command = [RELAIS, "worker", *(["--with-scheduler"] if index == 0 else [])]
                own = _own_dir(env, data_dir, f"worker{index}", own_data_dirs)
                processes[f"worker {index}"] = subprocess.Popen(
                    command, env=own, cwd=REPO, stdout=subprocess.DEVNULL, start_new_session=True
                )
            _wait_healthy(client, processes["api"])
            yield Stack(api_port=api_port, database_url=url, redis=client_redis, client=client, env=env,
                        processes=processes)  # fmt: skip
        finally:
            client.close()
            _stop(list(processes.values()))
            shutil.rmtree(base, ignore_errors=True)
    client_redis.flushdb()
    client_redis.close()


def load_average() -> str:
    """The 1/5/15-minute load averages and the CPU count, printed beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"
