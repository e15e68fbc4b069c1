"""messages, consent_events: a contact's rows by time in one index (contact_id, created_at / at)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 20:45:00

A campaign's report counts the recipients who replied or opted out after its message: a join of the
campaign's messages to each recipient's later rows. With (contact_id) and (created_at) indexed apart,
PostgreSQL planning on statistics taken before the campaign's rows existed (autovacuum had not analysed
them yet: the report is built when the last message is sent) probed the time index, "every row created
after this message", for each recipient: a 30,000-recipient report ran over 100 s, and the completing
sweep held the campaign's row, and both workers, meanwhile. One (contact_id, time) index answers each
probe by itself; it also serves every lookup by contact alone, so the contact-only index goes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_contact_created", ["contact_id", "created_at"], unique=False)
        batch_op.drop_index("ix_messages_contact_id")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_contact_at", ["contact_id", "at"], unique=False)
        batch_op.drop_index("ix_consent_events_contact_id")


def downgrade() -> None:
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_contact_id", ["contact_id"], unique=False)
        batch_op.drop_index("ix_consent_events_contact_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_contact_id", ["contact_id"], unique=False)
        batch_op.drop_index("ix_messages_contact_created")
