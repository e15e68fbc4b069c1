"""Sessions: a savepoint is part of the outer transaction on both backends."""

from __future__ import annotations

from sqlalchemy import func, select

from core import accounts, db
from core.models import ApiKey
from core.settings import Settings


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
