"""0019: the attachments of stored messages (``messages.media``) are encrypted by the upgrade, decrypted back by
the downgrade, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from conversations.models import Message
from core import db
from core.schema import alembic_config, migrate
from core.settings import Settings
from tests.contacts.helpers import create_contact
from tests.core.migration_helpers import emptied, restore_postgres

TOKEN_URL = "https://media.provider.example/v3/media/abc?token=Quokka-secret-token"
MMS = [{"url": TOKEN_URL, "content_type": "image/jpeg", "caption": "Quokka: my broken lamp", "size": 1200}]


def _messages_at_0018() -> sa.Table:
    """``messages`` as 0018 left it: the model's table (its defaults fill the other columns), media plain JSON."""
    table = Message.__table__.to_metadata(sa.MetaData())  # type: ignore[attr-defined]
    table.c.media.type = sa.JSON()
    return table


def _json(value: Any) -> Any:
    # SQLite hands JSON back as text, PostgreSQL as a list
    return json.loads(value) if isinstance(value, str) else value


def test_stored_attachments_are_encrypted_and_back(runtime_any_db: Settings) -> None:
    url = runtime_any_db.resolved_database_url
    engine = emptied()
    migrate(url, "0018")
    with db.session_scope() as session:
        contact_id = create_contact(session, 1).id
    with engine.begin() as conn:  # the rows as 0018 stored them: plain JSON
        for body, media in (("photo", MMS), ("no attachment", [])):
            conn.execute(sa.insert(_messages_at_0018()).values(contact_id=contact_id, direction="in", body=body,
                                                               media=media))

    migrate(url)
    with engine.connect() as conn:
        raw = list(conn.scalars(sa.text("SELECT media FROM messages ORDER BY id")))
    assert all(value.startswith("t1:") for value in raw), raw
    assert not any("Quokka" in value or "token" in value for value in raw)
    with db.session_scope() as session:
        assert [m.media for m in session.scalars(select(Message).order_by(Message.id))] == [MMS, []]

    command.downgrade(alembic_config(url), "0018")
    with engine.connect() as conn:
        restored = [_json(value) for value in conn.scalars(sa.text("SELECT media FROM messages ORDER BY id"))]
    assert restored == [MMS, []]

    migrate(url)
    restore_postgres(url, engine)
