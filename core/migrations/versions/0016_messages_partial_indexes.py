"""messages: three indexes leave out the rows they never need to find (PostgreSQL)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 19:40:00

An outbound message is written four times on its way (queued, sending, sent, delivered); status is
indexed, so no write is a HOT update and each row version adds an entry to every index whose condition
it meets. A campaign message has no conversation and no provider id until it is sent, and nothing looks
a row up by a settled status alone (a newest-first listing of sent or delivered messages walks the
primary key): 32 index entries per campaign message become 24 (docs/benchmark-log.md, 2026-11-30 19:20).

* ``ix_messages_conversation_created`` only where ``conversation_id IS NOT NULL``;
* ``uq_messages_provider_id`` (a unique constraint) becomes a unique index where
  ``provider_message_id IS NOT NULL`` (NULLs never conflicted, so the rule is the same);
* ``ix_messages_status_not_before`` only where the status is not sent, delivered or received: the due
  query and recovery look up queued and sending rows, the API's listing rare statuses (failed, …).

SQLite keeps whole indexes (its planner does not prove ``status = 'queued'`` implies a ``NOT IN``); the
provider-id rule becomes a unique index there too, as the model declares it. The indexes are rebuilt in
the migration's transaction: on a large table, writes to ``messages`` wait for it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLED = "status NOT IN ('sent', 'delivered', 'received')"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_provider_id", type_="unique")
        batch_op.drop_index("ix_messages_conversation_created")
        batch_op.drop_index("ix_messages_status_not_before")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "uq_messages_provider_id",
            ["provider", "provider_message_id"],
            unique=True,
            postgresql_where=sa.text("provider_message_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_messages_conversation_created",
            ["conversation_id", "created_at"],
            unique=False,
            postgresql_where=sa.text("conversation_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_messages_status_not_before", ["status", "not_before"], unique=False, postgresql_where=sa.text(SETTLED)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_not_before")
        batch_op.drop_index("ix_messages_conversation_created")
        batch_op.drop_index("uq_messages_provider_id")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_status_not_before", ["status", "not_before"], unique=False)
        batch_op.create_index("ix_messages_conversation_created", ["conversation_id", "created_at"], unique=False)
        batch_op.create_unique_constraint("uq_messages_provider_id", ["provider", "provider_message_id"])
