"""Sessions: a savepoint is part of the outer transaction on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from core import accounts, db
from core.logging import scrub
from core.models import ApiKey
from core.settings import Settings
from tests.helpers import terminate_backends


def test_work_inside_a_savepoint_is_undone_by_the_outer_rollback(runtime_any_db: Settings) -> None:
    # on SQLite the SAVEPOINT used to open the transaction itself and its RELEASE committed
    with db.new_session() as session:
        with session.begin_nested():
            accounts.create_api_key(session, name="inner", role="agent")
        session.rollback()
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_a_rolled_back_savepoint_keeps_the_rest_of_the_transaction(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        accounts.create_api_key(session, name="kept", role="agent")
        savepoint = session.begin_nested()
        accounts.create_api_key(session, name="dropped", role="agent")
        savepoint.rollback()
    with db.session_scope() as session:
        assert session.scalars(select(ApiKey.name)).all() == ["kept"]


def test_failed_statements_never_show_their_parameters(runtime_any_db: Settings) -> None:
    """A failing write's error is logged (500s, after-commit callbacks): it must not carry the values."""
    secret = "csrf-token-5f0c2a9e"
    with db.engine().connect() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE leak_probe (token VARCHAR(40) UNIQUE)"))
        conn.execute(sa.text("INSERT INTO leak_probe VALUES (:t)"), {"t": secret})
        with pytest.raises(sa.exc.IntegrityError) as err:
            conn.execute(sa.text("INSERT INTO leak_probe VALUES (:t)"), {"t": secret})
    assert "INSERT INTO leak_probe" in str(err.value) and "parameters hidden" in str(err.value)
    assert secret not in scrub(str(err.value))  # PostgreSQL quotes the key itself: the log processor drops it


def test_timestamps_come_back_aware_utc_on_every_database(runtime_any_db: Settings) -> None:
    """SQLite used to hand back naive datetimes, printed by the API without a timezone."""
    paris = timezone(timedelta(hours=2))
    with db.session_scope() as session:
        key, _ = accounts.create_api_key(session, name="tz", role="agent")
        key.created_at = datetime(2026, 6, 1, 14, 0, tzinfo=paris)
        key_id = key.id
    with db.session_scope() as session:
        stored = session.get(ApiKey, key_id)
        assert stored is not None and stored.created_at.tzinfo is not None
        assert stored.created_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
        assert stored.created_at.utcoffset() == timedelta(0)
        # comparisons bind through the same type: an aware bound finds the row on both databases
        since = datetime(2026, 6, 1, 13, 59, tzinfo=paris)
        found = session.scalar(select(ApiKey.id).where(ApiKey.created_at >= since))
        assert found == key_id


@pytest.fixture
def postgresql(runtime_any_db: Settings) -> Settings:
    if db.engine().dialect.name != "postgresql":
        pytest.skip("server-side connections exist on PostgreSQL only")
    return runtime_any_db


def test_a_pooled_connection_whose_backend_was_killed_is_replaced_at_checkout(postgresql: Settings) -> None:
    """Without a SELECT 1 per checkout (pool_pre_ping), the next user of a dead pooled connection still
    succeeds: its closed socket is seen and a new connection made."""
    engine = db.engine()
    with engine.connect() as conn:
        killed = conn.scalar(sa.text("SELECT pg_backend_pid()"))
    terminate_backends(postgresql.resolved_database_url)
    with db.session_scope() as session:
        assert session.scalar(sa.text("SELECT pg_backend_pid()")) != killed
        accounts.create_api_key(session, name="after the kill", role="agent")
    with db.session_scope() as session:
        assert session.scalars(select(ApiKey.name)).all() == ["after the kill"]


def test_a_long_many_parameter_statement_is_converted_for_psycopg_once(
    postgresql: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement the size of the inbound batch's multi-row INSERT (over 4 KB, over 50 parameters)
    keeps psycopg's conversion of its placeholders: it was redone at every execution."""
    from psycopg import _queries

    conversions: list[bytes] = []
    uncached = _queries._query2pg_nocache

    def counting(query: bytes, *args: object) -> object:
        conversions.append(query)
        return uncached(query, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_queries, "_query2pg_nocache", counting)
    names = [f"value_with_a_long_name_{n}" for n in range(300)]
    statement = sa.text("SELECT " + " + ".join(f"CAST(:{name} AS integer)" for name in names))
    assert len(str(statement)) > 4096
    with db.engine().connect() as conn:
        for _ in range(3):
            assert conn.scalar(statement, dict.fromkeys(names, 1)) == 300
    assert conversions == []
