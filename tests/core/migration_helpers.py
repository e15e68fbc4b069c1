"""Shared steps of the migration tests: start from an empty database, leave PostgreSQL as found."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import db
from core.schema import load_models


def emptied() -> Engine:
    """The test database's engine with no table left, Alembic's version table included."""
    engine = db.engine()
    load_models().drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def restore_postgres(url: str, engine: Engine) -> None:
    """PostgreSQL is shared by the session: give the other tests back the tables they expect, unversioned.

    (Each SQLite test has its own file, so there is nothing to restore.)
    """
    if url.startswith("sqlite"):
        return
    load_models().drop_all(engine)
    load_models().create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
