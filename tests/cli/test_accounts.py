"""``relais user …``: the lifecycle commands act through core.users and are audited as the CLI."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from core import accounts, db
from core.models import AuditEntry, ConsoleSession, User
from core.security import passwords
from core.settings import Settings

PASSWORD = "correct horse battery"


def test_user_lifecycle_commands(runtime: Settings) -> None:
    runner = CliRunner()
    with db.session_scope() as session:
        user = accounts.create_user(session, email="ana@example.com", password=PASSWORD, role="agent")
        user.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DP"
        accounts.open_console_session(session, user=user, verified=True)

    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0 and "ana@example.com" in listed.output and "on" in listed.output

    assert runner.invoke(app, ["user", "revoke-sessions", "ana@example.com"]).output.startswith("1 sessions ended")
    promoted = runner.invoke(app, ["user", "set-role", "ana@example.com", "--role", "admin"])
    assert promoted.exit_code == 0 and "ana@example.com is admin" in promoted.output
    last = runner.invoke(app, ["user", "set-role", "ana@example.com", "--role", "agent"])
    assert last.exit_code == 1 and "ana@example.com is the last active admin and cannot be made agent" in last.output
    unknown = runner.invoke(app, ["user", "set-role", "ana@example.com", "--role", "owner"])
    assert unknown.exit_code == 1 and "unknown role 'owner'" in unknown.output
    with db.session_scope() as session:
        accounts.create_user(session, email="boss@example.com", password=PASSWORD, role="admin")
    assert runner.invoke(app, ["user", "set-role", "ana@example.com", "--role", "agent"]).exit_code == 0
    assert runner.invoke(app, ["user", "reset-2fa", "ANA@example.com"]).exit_code == 0
    reset = runner.invoke(app, ["user", "reset-password", "ana@example.com"], input="temporary pass 1\n" * 2)
    assert reset.exit_code == 0, reset.output
    assert runner.invoke(app, ["user", "deactivate", "ana@example.com"]).exit_code == 0
    with db.session_scope() as session:
        stored = session.scalars(select(User).where(User.email == "ana@example.com")).one()
        assert not stored.is_active and stored.totp_secret is None
        assert passwords.verify_password(stored.password_hash, "temporary pass 1")
        assert session.scalars(select(ConsoleSession)).all() == []
        actions = [(e.actor_type, e.action) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [
        ("cli", "user.sessions.revoke"),
        ("cli", "user.role.change"),
        ("cli", "user.role.change"),
        ("cli", "user.2fa.reset"),
        ("cli", "user.password.reset"),
        ("cli", "user.deactivate"),
    ]
    assert runner.invoke(app, ["user", "reactivate", "ana@example.com"]).exit_code == 0

    missing = runner.invoke(app, ["user", "deactivate", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user with e-mail nobody@example.com" in missing.output
    short = runner.invoke(app, ["user", "reset-password", "ana@example.com"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
