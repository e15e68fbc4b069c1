"""Database engine, sessions and the declarative base.

One commit point: the request dependency or the job wrapper calls :func:`session_scope`, which
commits or rolls back; services only ``flush()``. Work that must happen only once the data is
committed (queueing jobs, notifying the console) registers with :func:`after_commit`.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import ProgressKept
from core.types import UTCDateTime

log = structlog.get_logger("relais.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Relais table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # aware UTC on SQLite too (core.types)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """Engine tuned per backend: SQLite in WAL mode with foreign keys, PostgreSQL pooled (a pooled
    connection the server closed is replaced at checkout: :func:`_refuse_closed_connection`).

    ``hide_parameters``: a failed statement's error (logged, or shown in a 500's log line) names the
    SQL but never its values, which can be phone numbers, tokens or message texts.
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(conn: Connection, _name: str) -> None:
            # pysqlite opens its transaction lazily, at the first write: a SAVEPOINT issued before
            # any write would open the transaction itself, and its RELEASE would then COMMIT
            # everything so far, so a later rollback could not undo it. Open it first.
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and not dbapi.in_transaction:
                conn.exec_driver_sql("BEGIN")

        return engine
    query = make_url(url).query
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        hide_parameters=True,
        connect_args={k: v for k, v in TCP_KEEPALIVES.items() if k not in query},
    )
    event.listen(engine, "checkout", _refuse_closed_connection)
    _cache_long_queries()
    return engine


#: psycopg converts a query's ``%(name)s`` placeholders to PostgreSQL's ``$n`` in Python and keeps the
#: conversion (an LRU of 128 queries) only for queries of at most 4 KB and 50 parameters. SQLAlchemy's
#: multi-row INSERTs (insertmanyvalues: the inbound batch's 32 messages x 31 columns are 32 KB and ~1,000
#: parameters) were converted again at every execution: ~1 ms of a worker's processor time per text.
PSYCOPG_CACHED_QUERY_BYTES = 64 * 1024
PSYCOPG_CACHED_QUERY_PARAMS = 4096


def _cache_long_queries() -> None:
    """Raise psycopg's limits for caching a query's conversion (:data:`PSYCOPG_CACHED_QUERY_BYTES`).

    They are module constants of a private module: a psycopg without them keeps its own limits."""
    from psycopg import _queries

    for name, value in (("MAX_CACHED_STATEMENT_LENGTH", PSYCOPG_CACHED_QUERY_BYTES),
                        ("MAX_CACHED_STATEMENT_PARAMS", PSYCOPG_CACHED_QUERY_PARAMS)):
        if isinstance(getattr(_queries, name, None), int):
            setattr(_queries, name, max(getattr(_queries, name), value))


#: libpq keepalives (a URL's own ``keepalives*`` parameters win): the kernel probes an idle
#: connection, so one a firewall or NAT dropped without a word errors its socket within ~2 minutes,
#: which the checkout below then sees like any closed connection.
TCP_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 60, "keepalives_interval": 10, "keepalives_count": 5}


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout: a pooled PostgreSQL connection the server has closed is replaced before use.

    Instead of ``pool_pre_ping`` (a ``SELECT 1`` round trip at every checkout, ~10 % of the inbound
    webhook's time), the socket is polled without waiting: idle between transactions, a live
    connection has nothing to read, while one whose backend was terminated, whose server restarted
    or that a proxy closed has its FATAL notice and end-of-file waiting (or an error, after the
    keepalives gave up). ``DisconnectionError`` makes the pool discard it and connect afresh.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection (or spoke while it was idle)")


_lock = threading.Lock()
_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def configure(url: str) -> Engine:
    """Install the process-wide engine; returns it."""
    global _engine, _factory
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = make_engine(url)
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database is not configured; call core.runtime.bootstrap() first")
    return _engine


def new_session() -> Session:
    if _factory is None:
        raise RuntimeError("database is not configured; call core.runtime.bootstrap() first")
    return _factory()


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once ``session`` commits; dropped if it rolls back."""
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # The data is committed whatever happens here: a failing callback (Redis down) is logged, and
    # the periodic sweepers of each package re-queue work whose job never arrived.
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed", callback=getattr(callback, "__qualname__", repr(callback)))


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # outermost rollback only
        session.info.pop("after_commit", None)


@contextmanager
def session_scope() -> Iterator[Session]:
    """The one commit point for jobs, CLI commands and the request dependency: commits when the block ends, and
    when it raises :class:`core.errors.ProgressKept` (work interrupted after steps its cursor records); rolls
    back on any other error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except ProgressKept:
        session.commit()  # the steps done stand: their cursor lets the next run go on from there
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
