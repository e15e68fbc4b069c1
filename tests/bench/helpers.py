"""What the benchmarks' tests check after a run."""

from __future__ import annotations

import sqlalchemy as sa


def bench_databases(server: str) -> set[str]:
    """The benchmark databases on ``server`` (each bench drops its own when done)."""
    engine = sa.create_engine(server)
    with engine.connect() as conn:
        names = set(conn.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'relais_bench_%'")))
    engine.dispose()
    return names
