"""TOTP and webhook secrets encrypted at rest; pending TOTP enrolment kept apart; last TOTP step

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 06:50:00

Existing clear-text secrets are encrypted with the active key (``relais migrate`` configures the
key ring first). A user whose factor was not yet confirmed keeps it as the pending enrolment.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from core import crypto

    bind = op.get_bind()
    users = bind.execute(
        sa.text("SELECT id, totp_secret, totp_confirmed, recovery_codes FROM users WHERE totp_secret IS NOT NULL")
    ).all()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending_secret', core.types.EncryptedText(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pending_recovery_codes', sa.JSON(), nullable=True))
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=core.types.EncryptedText(),
                              existing_nullable=True)
        batch_op.drop_column('totp_confirmed')
    bind.execute(sa.text("UPDATE users SET pending_recovery_codes = '[]'"))
    for user_id, secret, confirmed, codes in users:
        if confirmed:
            values = {"id": user_id, "secret": crypto.encrypt(secret)}
            bind.execute(sa.text("UPDATE users SET totp_secret = :secret WHERE id = :id"), values)
        else:
            # SQLite hands JSON back as text, PostgreSQL as a list
            codes_json = codes if isinstance(codes, str) else json.dumps(codes)
            values = {"id": user_id, "secret": crypto.encrypt(secret), "codes": codes_json}
            bind.execute(
                sa.text(
                    "UPDATE users SET totp_secret = NULL, totp_pending_secret = :secret, "
                    "pending_recovery_codes = :codes, recovery_codes = '[]' WHERE id = :id"
                ),
                values,
            )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('pending_recovery_codes', existing_type=sa.JSON(), nullable=False)

    subs = bind.execute(sa.text("SELECT id, secret FROM webhook_subscriptions")).all()
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=128), type_=core.types.EncryptedText(),
                              existing_nullable=False)
    for sub_id, secret in subs:
        bind.execute(
            sa.text("UPDATE webhook_subscriptions SET secret = :secret WHERE id = :id"),
            {"id": sub_id, "secret": crypto.encrypt(secret)},
        )


def downgrade() -> None:
    from core import crypto

    bind = op.get_bind()
    subs = bind.execute(sa.text("SELECT id, secret FROM webhook_subscriptions")).all()
    for sub_id, secret in subs:
        bind.execute(
            sa.text("UPDATE webhook_subscriptions SET secret = :secret WHERE id = :id"),
            {"id": sub_id, "secret": crypto.decrypt(secret)},
        )
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=core.types.EncryptedText(), type_=sa.String(length=128),
                              existing_nullable=False)

    users = bind.execute(sa.text("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")).all()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_confirmed', sa.Boolean(), nullable=False, server_default=sa.false()))
    for user_id, secret in users:
        bind.execute(
            sa.text("UPDATE users SET totp_secret = :secret, totp_confirmed = :yes WHERE id = :id"),
            {"id": user_id, "secret": crypto.decrypt(secret), "yes": True},
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_confirmed', server_default=None)
        batch_op.alter_column('totp_secret', existing_type=core.types.EncryptedText(), type_=sa.String(length=64),
                              existing_nullable=True)
        batch_op.drop_column('pending_recovery_codes')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_pending_secret')
