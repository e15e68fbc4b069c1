"""inbound_events: a partial index of the events not yet taken in

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 15:10:00

Every minute the inbound sweep looks for stored texts never taken in (``processed_at IS NULL``), and the
operators' metrics count them. Nothing indexed that column, so each sweep read the whole table: every text ever
received (a million rows: 72 ms of PostgreSQL scan a minute, growing with the shop's history). The partial index
holds only the unprocessed rows, a handful at most; both databases support it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPROCESSED = sa.text("processed_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_inbound_events_unprocessed",
        "inbound_events",
        ["id"],
        unique=False,
        postgresql_where=UNPROCESSED,
        sqlite_where=UNPROCESSED,
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_events_unprocessed", table_name="inbound_events")
