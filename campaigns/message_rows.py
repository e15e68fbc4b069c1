"""A preparation chunk's message rows inserted in one statement, their ids returned by idempotency key.

On PostgreSQL the rows go as one JSON document (``json.dumps``, in C) expanded by the server
(``json_to_recordset``): SQLAlchemy's executemany ran one prepared INSERT per row through psycopg's
pipeline, each row's 19 parameters built and dumped in Python, then read the ids back by an array
of 5,000 keys adapted element by element — about half of the preparing worker's processor time.
Elsewhere (SQLite) the executemany and the read-back stay: without RETURNING, SQLite runs one
statement per row either way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, column, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from conversations.models import Message
from core.sql import among
from core.types import EncryptedJSON, EncryptedText

_messages: Table = Message.__table__  # type: ignore[assignment]


def insert_messages(session: Session, records: list[dict[str, Any]]) -> list[int]:
    """Insert ``records`` (column values of ``messages``, the same keys in each, every one with its
    ``idempotency_key``); returns their ids in the same order. Flush-level: the caller commits."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        by_key = _insert_from_json(connection, records)
    else:
        connection.execute(insert(_messages), records)
        keys = [r["idempotency_key"] for r in records]
        found = select(_messages.c.idempotency_key, _messages.c.id).where(
            among(_messages.c.idempotency_key, keys, connection.dialect.name)
        )
        by_key = {key: mid for key, mid in connection.execute(found)}
    return [by_key[r["idempotency_key"]] for r in records]


def _insert_from_json(connection: Connection, records: list[dict[str, Any]]) -> dict[str | None, int]:
    """One ``INSERT … SELECT FROM json_to_recordset(…) RETURNING``: the records' columns typed as the
    table's, the columns they leave out given the table's defaults, as the Core INSERT would."""
    given = list(records[0])
    encrypted = [name for name in given if isinstance(_messages.c[name].type, EncryptedText | EncryptedJSON)]
    defaults = {
        c.name: c.default.arg if c.default.is_scalar else c.default.arg(None)  # type: ignore[attr-defined]
        for c in _messages.columns
        if c.name not in given and c.default is not None
    }
    rows = func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON)).table_valued(
        *(column(name, _messages.c[name].type) for name in given)
    ).render_derived(with_types=True)  # fmt: skip
    source = select(*(rows.c[name] for name in given), *(literal(v, _messages.c[n].type) for n, v in defaults.items()))
    statement = (insert(_messages).from_select([*given, *defaults], source)
                 .returning(_messages.c.idempotency_key, _messages.c.id))  # fmt: skip
    processors = {name: _messages.c[name].type.bind_processor(connection.dialect) for name in encrypted}
    document = json.dumps(
        [{**r, **{name: process(r[name]) for name, process in processors.items() if process}} for r in records],
        default=_json_value,
    )
    return {key: mid for key, mid in connection.execute(statement, {"rows": document})}


def _json_value(value: object) -> str:
    """A time in the JSON document: ISO form with its offset (naive taken as UTC, as ``UTCDateTime`` stores it)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
