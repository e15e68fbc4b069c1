"""Column types: personal data encrypted at rest (see ``core.crypto``) and UTC timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core import crypto


class EncryptedText(TypeDecorator[str]):
    """A string stored as AES-GCM ciphertext with its key id."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored encrypted (contact attributes, webhook payloads with PII)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else crypto.encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(crypto.decrypt(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware, in UTC, on every database.

    PostgreSQL's ``timestamptz`` does this itself; SQLite stores text without an offset and hands
    back naive datetimes, which the API then printed without a timezone (the schema says
    ``date-time``) and which Python refuses to compare with aware ones. Values are stored in UTC
    (a naive value is taken as UTC) and read back with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
