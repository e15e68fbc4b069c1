"""contact_imports: order imports run as jobs beside contact imports; contacts a re-import left unchanged

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 15:10:00

The console imports order files as background jobs with the contact imports' machinery (the upload kept
in encrypted chunks, rejected rows with their cells): ``kind`` tells the two apart and ``summary`` holds an
order import's report. ``unchanged`` counts existing contacts whose row changed nothing (a re-import read
"N updated" of contacts it left as they were).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), server_default="contacts", nullable=False))
        batch_op.add_column(sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_imports", schema=None) as batch_op:
        batch_op.drop_column("summary")
        batch_op.drop_column("unchanged")
        batch_op.drop_column("kind")
