"""eval_reports: evaluation reports in the shared database instead of one host's data directory

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 18:45:00

The console's QA page and ``/api/v1/eval/reports`` read ``<data_dir>/reports`` on the API host's own
disk, so a report run on another host never reached them. ``relais eval run`` now publishes each report
here too (its files are still written).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eval_reports",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("suite", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_reports")),
    )
    with op.batch_alter_table("eval_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_reports_suite"), ["suite"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("eval_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_reports_suite"))
    op.drop_table("eval_reports")
