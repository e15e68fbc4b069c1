"""campaign_allocations: per-batch allocation history of adaptive (bandit) campaigns

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'campaign_allocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('run', sa.Integer(), nullable=False),
        sa.Column('batch', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('arms', sa.JSON(), nullable=False),
        sa.Column('control_ids', sa.JSON(), nullable=False),
        sa.Column('winner', sa.String(length=40), nullable=False),
        sa.Column('stopped', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('campaign_id', 'run', 'batch', name='uq_campaign_allocations_batch'),
    )
    with op.batch_alter_table('campaign_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_allocations_campaign_id'), ['campaign_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_allocations_campaign_id'))
    op.drop_table('campaign_allocations')
