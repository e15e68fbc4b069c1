"""``relais run`` on embedded defaults: its own data dir, an embedded Redis, migrations, /healthz.

Two instances with their own ports and data directories run side by side.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RELAIS = str(Path(sys.executable).parent / "relais")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_") or k.endswith("_KEYS")}
    env.update({"RELAIS_DATA_DIR": str(data_dir), "RELAIS_LOG_LEVEL": "WARNING"})  # no REDIS_URL: embedded
    return subprocess.Popen(
        [RELAIS, "run", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_healthy(port: int, process: subprocess.Popen[bytes], deadline: float = 90.0) -> httpx.Response:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("relais run did not answer /healthz in time")


def test_two_instances_run_side_by_side_on_embedded_stores(tmp_path: Path) -> None:
    ports = [_free_port(), _free_port()]
    processes = [_start(tmp_path / f"instance{n}", port) for n, port in enumerate(ports)]
    try:
        for port, process in zip(ports, processes, strict=True):
            assert _wait_healthy(port, process).json() == {"status": "ok"}
        for n in range(2):
            assert (tmp_path / f"instance{n}" / "relais.db").exists()
            assert list((tmp_path / f"instance{n}").glob("redis*"))  # the embedded Redis lives in the data dir
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
