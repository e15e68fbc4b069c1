"""Alembic migrations build the schema the models describe (autogenerate finds no difference)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core import db
from core.schema import load_models, migrate
from core.settings import Settings
from tests.core.migration_helpers import emptied, restore_postgres


def _diff(url: str) -> list[object]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, load_models())
    engine.dispose()
    return diff


def test_migrations_match_models(runtime_any_db: Settings) -> None:
    url = runtime_any_db.resolved_database_url
    engine = emptied()
    migrate(url)
    assert _diff(url) == []
    migrate(url)  # a second run is a no-op
    if not url.startswith("sqlite"):
        with engine.begin() as conn:  # leave PostgreSQL as the other tests expect it
            conn.execute(sa.text("DROP TABLE alembic_version"))


def test_secrets_stored_in_clear_are_encrypted_by_the_migration(runtime_any_db: Settings) -> None:
    """0003: TOTP and webhook secrets written in clear before it are encrypted; an unconfirmed
    factor becomes the pending enrolment, with its recovery codes."""
    from core.models import User, WebhookSubscription

    url = runtime_any_db.resolved_database_url
    engine = emptied()
    migrate(url, "0002")
    with engine.begin() as conn:
        insert_user = (
            "INSERT INTO users (email, name, role, password_hash, totp_secret, totp_confirmed, recovery_codes,"
            " is_active, created_at) VALUES (:email, 'x', 'agent', 'h', :secret, :confirmed, :codes, :yes, :now)"
        )
        now = db.utcnow()
        conn.execute(
            sa.text(insert_user),
            {"email": "a@example.com", "secret": "JBSWY3DPEHPK3PXP", "confirmed": True, "codes": '["h1"]',
             "yes": True, "now": now},
        )
        conn.execute(
            sa.text(insert_user),
            {"email": "b@example.com", "secret": "KRSXG5CTMVRXEZLU", "confirmed": False, "codes": '["h2"]',
             "yes": True, "now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_subscriptions (url, event_types, secret, active, created_at)"
                " VALUES ('https://example.com/h', '[\"*\"]', 'whsec-clear', :yes, :now)"
            ),
            {"yes": True, "now": now},
        )
    migrate(url)
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT totp_secret, totp_pending_secret FROM users ORDER BY id")).all()
        raw_sub = conn.scalar(sa.text("SELECT secret FROM webhook_subscriptions"))
    assert raw[0][0].startswith("t1:") and "JBSWY3DPEHPK3PXP" not in raw[0][0]
    assert raw[1][0] is None and raw[1][1].startswith("t1:")
    assert raw_sub.startswith("t1:") and "whsec-clear" not in raw_sub
    with db.session_scope() as session:
        a, b = session.scalars(sa.select(User).order_by(User.id)).all()
        assert a.totp_secret == "JBSWY3DPEHPK3PXP" and a.recovery_codes == ["h1"] and a.pending_recovery_codes == []
        assert b.totp_secret is None and b.totp_pending_secret == "KRSXG5CTMVRXEZLU"
        assert b.pending_recovery_codes == ["h2"] and b.recovery_codes == []
        assert session.scalars(sa.select(WebhookSubscription)).one().secret == "whsec-clear"
    restore_postgres(url, engine)
