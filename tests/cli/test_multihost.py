"""Two hosts, one agent: ``relais run --no-workers`` (the API) and ``relais worker`` on separate data
folders share only PostgreSQL and Redis, as in the "many API replicas, many workers" layout.

Intents posted to the API are trained by the worker; a customer's text received by the API is
answered by the worker with that new model and with the business profile set through the API.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

from tests.conftest import DEFAULT_PG, DEFAULT_REDIS, make_url_redis
from tests.helpers import free_port, skip_unless_ci

RELAIS = str(Path(sys.executable).parent / "relais")
REDIS_DB = 15  # test sessions use 1 + worker + 2 x RELAIS_TEST_SLOT; this one is left to this test
LOCK_KEY = "relais-test-multihost"
PHONE = "+33612345678"
GIFT_REPLY = "GIFT-7Q: e-gift cards from 20 to 300 EUR."
CLOSED_REPLY = "CLOSED-4X: an advisor answers from {opens}."
SPEC = {"intents": [
    {"name": "gift_card", "reply": GIFT_REPLY,
     "examples": ["do you sell gift cards", "can I buy a gift card", "gift voucher for a friend",
                  "I'd like to offer a gift card", "gift certificate please"]},
    {"name": "order_status",
     "examples": ["where is my order", "my parcel has not arrived", "track my package", "order status please",
                  "when will my delivery come"]},
]}
PROFILE = {"brand": {"name": "Maison Multihost"},
           "hours": {"timezone": "Europe/Paris", "weekly": {}, "closed_reply": {"en": CLOSED_REPLY}}}


@pytest.fixture
def shared_stores() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database (dropped afterwards) and a Redis database flushed afterwards."""
    redis_url = make_url_redis(os.environ.get("RELAIS_TEST_REDIS_URL") or DEFAULT_REDIS, db=REDIS_DB)
    redis = redis_lib.Redis.from_url(redis_url)
    name = f"relais_multihost_{uuid.uuid4().hex[:8]}"
    # one run of this test at a time across concurrent test sessions; never flush data it does not own
    deadline = time.monotonic() + 900
    while not redis.set(LOCK_KEY, name, nx=True, ex=1800):
        if time.monotonic() > deadline:
            skip_unless_ci(f"Redis database {REDIS_DB} is held by another run of this test")
        time.sleep(2)
    if redis.dbsize() > 1:
        redis.delete(LOCK_KEY)
        skip_unless_ci(f"Redis database {REDIS_DB} holds another test session's data")
    base = make_url(os.environ.get("RELAIS_TEST_DATABASE_URL") or DEFAULT_PG)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        redis.delete(LOCK_KEY)
        if os.environ.get("RELAIS_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL at {base.render_as_string()} is unreachable")
        skip_unless_ci(f"PostgreSQL at {base.render_as_string()} is unreachable")
    try:
        yield base.set(database=name).render_as_string(hide_password=False), redis_url
    finally:
        redis.flushdb()  # the jobs and the lock of this run only: the database was empty before it
        redis.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(data_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update({
        "RELAIS_DATA_DIR": str(data_dir), "RELAIS_DATABASE_URL": database_url, "RELAIS_REDIS_URL": redis_url,
        "RELAIS_LOG_LEVEL": "WARNING", "RELAIS_LLM_BASE_URL": "", "RELAIS_LLM_MODEL": "",
        # the secrets every host of a deployment shares (stored texts are encrypted)
        "RELAIS_ENCRYPTION_KEYS": "m1:" + base64.b64encode(b"m" * 32).decode(),
        "RELAIS_BLIND_INDEX_KEY": base64.b64encode(b"b" * 32).decode(),
        "RELAIS_SECRET_KEY": "multihost-secret-key-0123456789abcdef",
    })
    return env


def _until(check: Callable[[], Any], what: str, processes: list[subprocess.Popen[bytes]],
           deadline: float = 240.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for process in processes:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_intents_posted_to_the_api_are_trained_by_a_worker_on_another_host_which_answers_with_them(
    shared_stores: tuple[str, str], tmp_path: Path
) -> None:
    database_url, redis_url = shared_stores
    api_env = _env(tmp_path / "api-host", database_url, redis_url)
    worker_env = _env(tmp_path / "worker-host", database_url, redis_url)
    port = free_port()
    api = subprocess.Popen([RELAIS, "run", "--no-workers", "--port", str(port)], env=api_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    processes = [api]
    try:
        base = f"http://127.0.0.1:{port}"
        _until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, "the API", processes)
        worker = subprocess.Popen([RELAIS, "worker", "--with-scheduler"], env=worker_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        processes.append(worker)
        key = subprocess.run([RELAIS, "apikey", "create", "--role", "admin"], env=api_env, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        admin = {"Authorization": f"Bearer {key}"}

        saved = httpx.put(f"{base}/api/v1/agent/profile", headers=admin, content=yaml.safe_dump(PROFILE), timeout=30)
        assert saved.status_code == 200, saved.text
        queued = httpx.post(f"{base}/api/v1/intents", headers={**admin, "Content-Type": "application/yaml"},
                            content=yaml.safe_dump(SPEC), timeout=30)
        assert queued.status_code == 202, queued.text

        def job_done() -> dict[str, Any] | None:
            job: dict[str, Any] = httpx.get(base + queued.json()["links"]["self"], headers=admin, timeout=10).json()
            assert job["status"] != "failed", job["error"]
            return job if job["status"] == "succeeded" else None

        job = _until(job_done, "the worker to train the intents", processes, deadline=600)
        versions = httpx.get(f"{base}/api/v1/intents", headers=admin, timeout=10).json()
        active = [v for v in versions if v["active"]]
        assert [v["version"] for v in active] == [job["version"]] and "gift_card" in active[0]["intents"]
        assert not (tmp_path / "api-host" / "models").exists() and not (tmp_path / "worker-host" / "models").exists()

        for text in ("Do you sell gift cards?", "I want to talk to a person please"):
            sent = httpx.post(f"{base}/api/v1/simulator/inbound", json={"from": PHONE, "body": text}, timeout=10)
            assert sent.status_code == 202, sent.text

        def replies() -> list[str] | None:
            got = httpx.get(f"{base}/api/v1/simulator/messages", params={"phone": PHONE}, headers=admin, timeout=10)
            bodies = [m["body"] for m in got.json()]
            return bodies if len(bodies) >= 2 else None

        bodies = _until(replies, "the worker's replies", processes)
        assert bodies[0] == GIFT_REPLY  # the intent model the worker trained
        assert any(b.startswith("CLOSED-4X: an advisor answers from") for b in bodies[1:])  # the API's profile
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
