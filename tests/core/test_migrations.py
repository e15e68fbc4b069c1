"""Alembic migrations build the schema the models describe (autogenerate finds no difference)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core import db
from core.schema import load_models, migrate
from core.settings import Settings


def _diff(url: str) -> list[object]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, load_models())
    engine.dispose()
    return diff


def test_migrations_match_models(runtime_any_db: Settings) -> None:
    url = runtime_any_db.resolved_database_url
    engine = db.engine()
    load_models().drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    migrate(url)
    assert _diff(url) == []
    migrate(url)  # a second run is a no-op
    if not url.startswith("sqlite"):
        with engine.begin() as conn:  # leave PostgreSQL as the other tests expect it
            conn.execute(sa.text("DROP TABLE alembic_version"))
