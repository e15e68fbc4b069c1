"""campaign_forecasts: the forecast made when a campaign was scheduled (campaigns.forecasting)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 11:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'campaign_forecasts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('forecast', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('campaign_forecasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_forecasts_campaign_id'), ['campaign_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_forecasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_forecasts_campaign_id'))
    op.drop_table('campaign_forecasts')
