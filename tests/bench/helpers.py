"""What the benchmarks' tests check after a run."""

from __future__ import annotations

import uuid

import sqlalchemy as sa


def own_database_prefix() -> str:
    """A database prefix no other run shares: the benches' tests run side by side (pytest-xdist), so each checks
    only for the database it made, not for every ``relais_bench_*`` on the server."""
    return f"relais_bench_t{uuid.uuid4().hex[:8]}"


def databases_named(server: str, prefix: str) -> set[str]:
    """The databases on ``server`` whose names start with ``prefix_`` (each bench drops its own when done)."""
    engine = sa.create_engine(server)
    with engine.connect() as conn:
        names = set(
            conn.scalars(
                sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                {"prefix": f"{prefix}_"},
            )
        )
    engine.dispose()
    return names
