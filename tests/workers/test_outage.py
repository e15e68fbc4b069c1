"""``relais worker`` survives a Redis outage: a real redis-server is killed for 5 seconds and started
again on the same port; the same worker process is still running and does a job queued afterwards."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue
from rq.serializers import JSONSerializer

from tests.helpers import free_port, skip_unless_ci

RELAIS = str(Path(sys.executable).parent / "relais")
ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    """A redis-server process of our own on ``port``, without persistence (a restart loses everything)."""

    def __init__(self, port: int, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_unless_ci("redis-server is not installed")
        self.port, self.workdir, self.binary = port, workdir, binary
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


def worker_env(data_dir: Path, redis_url: str) -> dict[str, str]:
    """A worker process on its own SQLite file and the given Redis; ``tests`` importable for its jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update({
        "RELAIS_DATA_DIR": str(data_dir), "RELAIS_REDIS_URL": redis_url, "RELAIS_LOG_LEVEL": "WARNING",
        "RELAIS_DATABASE_URL": f"sqlite:///{data_dir / 'relais.db'}",
        "RELAIS_ENCRYPTION_KEYS": "o1:" + base64.b64encode(b"o" * 32).decode(),
        "RELAIS_BLIND_INDEX_KEY": base64.b64encode(b"p" * 32).decode(),
        "RELAIS_SECRET_KEY": "outage-secret-key-0123456789abcdef",
        "PYTHONPATH": str(ROOT),
    })
    return env


def wait_for(predicate: object, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_the_worker_outlives_a_redis_outage_and_works_afterwards(redis_server: RedisServer, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([RELAIS, "worker"], env=worker_env(tmp_path, url), stdout=log, stderr=log, cwd=ROOT)
    try:
        client = redis_lib.Redis.from_url(url)
        # the worker process loads the agent before it registers: minutes on a loaded 2-core machine
        assert wait_for(lambda: client.scard("rq:workers") == 1, 300), (tmp_path / "worker.log").read_text()
        before = tmp_path / "before.txt"
        Queue("default", connection=client, serializer=JSONSerializer).enqueue("tests.workers.jobs.touch", str(before))
        assert wait_for(before.exists, 30)

        redis_server.kill()
        time.sleep(5)
        assert worker.poll() is None, "the worker quit during the outage"
        redis_server.start()

        after = tmp_path / "after.txt"
        client = redis_lib.Redis.from_url(url)
        Queue("default", connection=client, serializer=JSONSerializer).enqueue("tests.workers.jobs.touch", str(after))
        assert wait_for(after.exists, 60), (tmp_path / "worker.log").read_text()[-3000:]
        assert worker.poll() is None
        assert client.scard("rq:workers") == 1  # registered again after the restart lost everything
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
