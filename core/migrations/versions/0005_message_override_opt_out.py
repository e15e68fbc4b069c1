"""messages.override_opt_out: a transactional text allowed to reach an opted-out number

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 06:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_opt_out', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('override_opt_out', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('override_opt_out')
