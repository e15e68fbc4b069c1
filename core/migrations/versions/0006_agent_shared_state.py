"""agent state in the database: intent model versions and activations, business profile, training jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('intent_models',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('backend', sa.String(length=200), nullable=False),
    sa.Column('spec_hash', sa.String(length=64), nullable=False),
    sa.Column('intents', sa.JSON(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('spec_yaml', sa.Text(), nullable=False),
    sa.Column('head', sa.LargeBinary(), nullable=False),
    sa.Column('encoder', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_intent_models'))
    )
    op.create_table('intent_model_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version'], ['intent_models.version'],
                            name=op.f('fk_intent_model_activations_version_intent_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intent_model_activations'))
    )
    with op.batch_alter_table('intent_model_activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intent_model_activations_version'), ['version'], unique=False)
    op.create_table('business_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_profile'))
    )
    op.create_table('intent_training_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('spec_yaml', sa.Text(), nullable=False),
    sa.Column('activate', sa.Boolean(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intent_training_jobs'))
    )


def downgrade() -> None:
    op.drop_table('intent_training_jobs')
    op.drop_table('business_profile')
    with op.batch_alter_table('intent_model_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intent_model_activations_version'))
    op.drop_table('intent_model_activations')
    op.drop_table('intent_models')
