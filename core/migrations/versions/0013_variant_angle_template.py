"""campaign_variants: the angle and the approved template get columns of their own

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 13:30:00

Until now both were keys inside the brand-check JSON (``check``). The upgrade moves them out
of it into ``angle`` and ``template_id`` (a template deleted since is not carried over: the
column is a foreign key); the downgrade puts them back.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = 'fk_campaign_variants_template_id_campaign_templates'
# a lightweight table: the JSON type (de)serialises ``check`` the same way on SQLite and PostgreSQL
variants = sa.table('campaign_variants', sa.column('id', sa.Integer()), sa.column('check', sa.JSON()),
                    sa.column('angle', sa.String()), sa.column('template_id', sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table('campaign_variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('angle', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('template_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(FOREIGN_KEY, 'campaign_templates', ['template_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('campaign_variants', schema=None) as batch_op:
        batch_op.alter_column('angle', server_default=None)
    bind = op.get_bind()
    templates = set(bind.scalars(sa.text('SELECT id FROM campaign_templates')))
    for variant_id, check in bind.execute(sa.select(variants.c.id, variants.c.check)).all():
        check = dict(check or {})
        if 'angle' not in check and 'template_id' not in check:
            continue
        angle = str(check.pop('angle', '') or '')
        template_id = check.pop('template_id', None)
        bind.execute(sa.update(variants).where(variants.c.id == variant_id).values(
            check=check, angle=angle, template_id=template_id if template_id in templates else None))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(variants.c.id, variants.c.check, variants.c.angle, variants.c.template_id)
                        .where(sa.or_(variants.c.angle != '', variants.c.template_id.is_not(None)))).all()
    for variant_id, check, angle, template_id in rows:
        restored: dict[str, Any] = dict(check or {})
        if angle:
            restored['angle'] = angle
        if template_id is not None:
            restored['template_id'] = template_id
        bind.execute(sa.update(variants).where(variants.c.id == variant_id).values(check=restored))
    with op.batch_alter_table('campaign_variants', schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_='foreignkey')
        batch_op.drop_column('template_id')
        batch_op.drop_column('angle')
