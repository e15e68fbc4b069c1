"""campaign_forecasts.run: one forecast per run of a recurring campaign (campaigns.forecasting)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 13:40:00

Forecasts stored before this revision were made when their campaign was scheduled, that is for
its first run: they get run 1.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaign_forecasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('campaign_forecasts', schema=None) as batch_op:
        batch_op.alter_column('run', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('campaign_forecasts', schema=None) as batch_op:
        batch_op.drop_column('run')
