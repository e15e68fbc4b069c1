"""messages carry their planned time: not_before (was next_attempt_at), expires_at, wait reason

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('next_attempt_at', new_column_name='not_before')
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('wait_reason', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('wait_detail', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('wait_reason', server_default=None)
        batch_op.alter_column('wait_detail', server_default=None)
        batch_op.create_index('ix_messages_status_not_before', ['status', 'not_before'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status_not_before')
        batch_op.drop_column('wait_detail')
        batch_op.drop_column('wait_reason')
        batch_op.drop_column('expires_at')
        batch_op.alter_column('not_before', new_column_name='next_attempt_at')
