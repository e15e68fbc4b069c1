"""campaigns.learned_cap: the delivery authority also applies each contact's learned frequency cap

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('learned_cap', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('learned_cap', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('learned_cap')
