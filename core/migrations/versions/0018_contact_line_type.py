"""contacts.line_type: the number's class in the numbering plan, so a landline is never texted

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 02:20:00

The importer warned that a number was a landline (or toll-free, premium-rate…) and the contact was then
texted like any other. The line type is now stored with the contact and the send authority refuses the
classes that cannot receive SMS. The numbers are encrypted and their line type comes from
``channels.phone`` (which ``core`` may not import), so existing contacts are filled after the migration,
by ``relais migrate`` and ``relais run`` (``contacts.line_types.fill_missing``, idempotent: NULL rows
only); until then NULL counts as textable, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_type", sa.String(length=24), nullable=True))
        batch_op.create_index(
            "ix_contacts_line_type_missing",
            ["id"],
            unique=False,
            postgresql_where=sa.text("line_type IS NULL"),
            sqlite_where=sa.text("line_type IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_line_type_missing")
        batch_op.drop_column("line_type")
