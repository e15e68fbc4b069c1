"""messages.media: attachments encrypted at rest, like the body

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 12:40:00

The attachments of texts received and sent (``messages.media``: address, content type, caption, size)
were a plain JSON column: providers' media addresses often carry access tokens (anyone reading a backup
could fetch the customer's photo), and captions and file names are the person's words. The column
becomes an ``EncryptedJSON`` (text holding ``<kid>:<ciphertext>``, ``core.crypto``) and every existing
row is encrypted with the active key (``relais migrate`` configures the key ring first); the downgrade
decrypts them back into JSON. Nothing filters on the column in SQL, so no query changes. Rows are
converted in id order, ``BATCH`` at a time, in the migration's transaction: on a large table, writes to
``messages`` wait for it.
"""

import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _convert(bind: sa.engine.Connection, change: Callable[[str], str]) -> None:
    """Rewrite every row's ``media`` text with ``change``, in id order, ``BATCH`` rows per round trip."""
    select = sa.text("SELECT id, media FROM messages WHERE id > :after ORDER BY id LIMIT :n")
    update = sa.text("UPDATE messages SET media = :media WHERE id = :id")
    after = 0
    while rows := bind.execute(select, {"after": after, "n": BATCH}).all():
        bind.execute(update, [{"id": row_id, "media": change(media)} for row_id, media in rows])
        after = rows[-1][0]


def _encrypted(media: str | None) -> str:
    from core import crypto

    # the column is text by now on both databases; the JSON it held is kept in EncryptedJSON's form
    return crypto.encrypt(json.dumps(json.loads(media or "[]"), sort_keys=True))


def _decrypted(media: str | None) -> str:
    from core import crypto

    return crypto.decrypt(media) if media else "[]"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("media", existing_type=sa.JSON(), type_=core.types.EncryptedJSON(),
                              existing_nullable=False, postgresql_using="media::text")
    _convert(op.get_bind(), _encrypted)


def downgrade() -> None:
    _convert(op.get_bind(), _decrypted)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("media", existing_type=core.types.EncryptedJSON(), type_=sa.JSON(),
                              existing_nullable=False, postgresql_using="media::json")
