"""Key rotation: re-encrypt every encrypted column with the active key, in small batches.

Each batch commits on its own, and old keys keep decrypting until rotation ends, so the service
keeps running while it happens. Put the new key first in RELAIS_ENCRYPTION_KEYS, keep the old
ones after it, run ``relais keys rotate``, then drop the old keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, Text, select, type_coerce, update

from core import crypto, db
from core.schema import load_models
from core.types import EncryptedJSON, EncryptedText


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column[Any]


def encrypted_columns() -> list[EncryptedColumn]:
    found = []
    for table in load_models().sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                found.append(EncryptedColumn(table, column))
    return found


def _stale_batches(target: EncryptedColumn, batch: int) -> Iterator[list[tuple[object, str]]]:
    pk = next(iter(target.table.primary_key.columns))
    raw = type_coerce(target.column, Text)
    prefix = f"{crypto.keyring().active_kid}:"
    last: object = None
    while True:
        with db.session_scope() as session:
            stmt = select(pk, raw).where(raw.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                stmt = stmt.where(pk > last)
            rows = [(r[0], r[1]) for r in session.execute(stmt)]
        if not rows:
            return
        last = rows[-1][0]
        yield [(key, value) for key, value in rows if not value.startswith(prefix)]


def rotate(batch: int = 500, progress: Callable[[str, int], None] | None = None) -> int:
    """Re-encrypt values not under the active key; returns how many were rewritten."""
    rewritten = 0
    for target in encrypted_columns():
        pk = next(iter(target.table.primary_key.columns))
        raw_col = type_coerce(target.column, Text)
        for rows in _stale_batches(target, batch):
            with db.session_scope() as session:
                for key, value in rows:
                    # bound as plain text: the column's own type would encrypt the new ciphertext again
                    fresh = type_coerce(crypto.encrypt(crypto.decrypt(value)), Text)
                    session.execute(
                        update(target.table).where(pk == key, raw_col == value).values({target.column.name: fresh})
                    )
            rewritten += len(rows)
            if progress:
                progress(f"{target.table.name}.{target.column.name}", len(rows))
    return rewritten
