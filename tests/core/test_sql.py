"""core.sql.among: the same rows on SQLite and PostgreSQL, the array passed as one text value on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, event, select

from core import db
from core.settings import Settings
from core.sql import among

_VALUES = ['a"b', "c\\d", "e\\nf", "line\nbreak", "tab\there", "\x01", "x,y", "{z}", "NULL", "", " padded ",
           "é€😀", "relais-12@worker"]  # fmt: skip


@pytest.fixture
def probe(runtime_any_db: Settings) -> Iterator[Table]:
    """A small table of its own (dropped after: the PostgreSQL test database outlives the test)."""
    table = Table("among_probe", MetaData(), Column("id", BigInteger, primary_key=True),
                  Column("n", Integer), Column("word", String(40)))  # fmt: skip
    table.drop(db.engine(), checkfirst=True)  # a run stopped half way left it behind
    table.create(db.engine())
    with db.engine().begin() as conn:
        conn.execute(table.insert(), [{"id": i + 1, "n": i * 10, "word": w} for i, w in enumerate(_VALUES)])
        conn.execute(table.insert(), [{"id": 100 + i, "n": 5000 + i, "word": f"other {i}"} for i in range(20)])
    try:
        yield table
    finally:
        table.drop(db.engine())


def test_among_selects_the_same_rows_on_both_databases(probe: Table) -> None:
    table = probe
    dialect = db.engine().dialect.name
    with db.engine().connect() as conn:

        def ids(condition: Any) -> list[int]:
            return list(conn.scalars(select(table.c.id).where(condition).order_by(table.c.id)))

        assert ids(among(table.c.word, _VALUES, dialect)) == list(range(1, len(_VALUES) + 1))
        assert ids(among(table.c.word, {"x,y", "NULL", "missing"}, dialect)) == [7, 9]
        assert ids(among(table.c.id, [3, 101, 10_000], dialect)) == [3, 101]
        assert ids(among(table.c.n, {0, 5019}, dialect)) == [1, 119]
        assert ids(among(table.c.id, [], dialect)) == []
        assert ids(~among(table.c.id, list(range(2, 120)), dialect)) == [1]


def test_among_passes_one_untyped_text_array_on_postgresql(probe: Table) -> None:
    """psycopg's list dumper cost ~0.7 ms per 500-value array, and a typed text parameter is cast at run time,
    out of the planner's sight: the values go as the array's text form, cast in the statement."""
    if db.engine().dialect.name != "postgresql":
        return
    table = probe
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        with db.engine().connect() as conn:
            found = list(conn.scalars(select(table.c.id).where(among(table.c.id, range(1, 501), "postgresql"))))
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)
    assert len(found) == len(_VALUES) + 20
    statement, parameters = seen[-1]
    assert "ANY (CAST(" in statement and "AS BIGINT[])" in statement and "::VARCHAR" not in statement
    assert [type(v) for v in parameters.values()] == [str]
    assert next(iter(parameters.values())).startswith("{1,2,3,")
