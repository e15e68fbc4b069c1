"""Small helpers shared by tests: credentials, a synchronous job runner, skipping outside CI."""

from __future__ import annotations

import os
import socket
import time
from typing import NoReturn

import pytest
import sqlalchemy as sa

from core import db


def skip_unless_ci(reason: str) -> NoReturn:
    """Skip on a laptop that lacks something (a server, a browser, a data set); fail under
    ``CI=true``, where everything the suite needs is there, so a test never passes by skipping."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def create_api_key(role: str, name: str = "test") -> str:
    """A fresh API key secret for ``role`` (committed)."""
    from core import accounts

    with db.session_scope() as session:
        _, secret = accounts.create_api_key(session, name=name, role=role)
    return secret


def auth_headers(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(role)}"}


def run_jobs() -> None:
    """Run every queued job to completion in this thread (a burst worker, real Redis), and the sends their
    batches handed to the delivery lanes (a send job may return before its batch is sent), again until
    nothing is left: a recorded batch may queue retries."""
    from core.queue import all_queues
    from workers.delivery import runtime
    from workers.runner import make_worker

    while True:
        make_worker(threaded=True).work(burst=True, logging_level="WARNING")
        runtime.flush()
        if not any(queue.count for queue in all_queues()):
            return


def free_port() -> int:
    """A TCP port nothing listens on now (for a server a test starts as a separate process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def terminate_backends(url: str) -> None:
    """Kill every other backend of the test database (as an administrator, a restart or a proxy would)
    and wait until they have exited, so their sockets are closed."""
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        pids = conn.scalars(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).all()
        assert pids, "the pool should hold a connection to kill"
        for pid in pids:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):
            if not conn.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": list(pids)}
            ):
                break
            time.sleep(0.05)
    admin.dispose()
