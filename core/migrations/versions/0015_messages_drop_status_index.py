"""messages: drop ix_messages_status, which ix_messages_status_not_before (status, not_before) covers

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 07:45:00

Every lookup by status alone can use the composite index's leading column. The single-column index
only cost writes: an outbound message changes status four times on its way (queued, sending, sent,
delivered) and each change inserted an entry into both.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_status'))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_status'), ['status'], unique=False)
