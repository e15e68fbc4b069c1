"""Small helpers shared by tests: credentials and a synchronous job runner."""

from __future__ import annotations

from core import db


def create_api_key(role: str, name: str = "test") -> str:
    """A fresh API key secret for ``role`` (committed)."""
    from core import accounts

    with db.session_scope() as session:
        _, secret = accounts.create_api_key(session, name=name, role=role)
    return secret


def auth_headers(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(role)}"}


def run_jobs() -> None:
    """Run every queued job to completion in this thread (a burst worker, real Redis)."""
    from workers.runner import make_worker

    make_worker(threaded=True).work(burst=True, logging_level="WARNING")
