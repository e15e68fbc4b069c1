"""``relais user create|list|set-role|deactivate|reactivate|reset-password|reset-2fa|revoke-sessions``,
``relais apikey create``, ``relais keys rotate``.

The user commands call the same ``core.users`` functions as the API and the console, audited with
the CLI as the actor; a user is named by e-mail.
"""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.actor import CLI_ACTOR
from cli.console import console, progress_bar
from core import accounts, api_keys, audit, crypto, db, keys, users
from core.errors import RelaisError
from core.models import User
from core.rbac import ALL_ROLES, parse_role
from core.runtime import bootstrap

user_app = typer.Typer(help="Console users.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(apikey_app, name="apikey")
    app.add_typer(keys_app, name="keys")


@user_app.command("create")
def create_user(
    email: str = typer.Option(..., prompt=True),
    role: str = typer.Option(..., help=f"One of {', '.join(ALL_ROLES)}."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    name: str = typer.Option(""),
) -> None:
    """Create a console user."""
    bootstrap()
    with db.session_scope() as session:
        user = accounts.create_user(session, email=email, password=password, role=role, name=name)
        audit.record(
            session,
            actor=CLI_ACTOR,
            action="user.create",
            target_type="user",
            target_id=user.id,
            diff={"role": role},
        )
        console.print(f"user [bold]{user.email}[/] ({user.role}) created with id {user.id}")


@user_app.command("list")
def list_users() -> None:
    """Every console user with role, two-factor state and whether they may log in."""
    bootstrap()
    table = Table("id", "e-mail", "role", "2FA", "active")
    with db.session_scope() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            table.add_row(
                str(user.id),
                user.email,
                user.role,
                "on" if user.totp_confirmed else "off",
                "yes" if user.is_active else "no",
            )
    console.print(table)


def _act_on(email: str, action: Callable[[Session, int], str]) -> None:
    """Run ``action`` on the user with this e-mail; a refusal prints its reason and exits with 1."""
    bootstrap()
    try:
        with db.session_scope() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                raise RelaisError(f"no user with e-mail {email}")
            console.print(action(session, user.id))
    except RelaisError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None


@user_app.command("deactivate")
def deactivate(email: str = typer.Argument(..., help="The user's e-mail.")) -> None:
    """Stop a user logging in; their sessions end and the API keys they created stop working."""
    _act_on(email, lambda s, uid: f"{users.deactivate(s, user_id=uid, actor=CLI_ACTOR).email} deactivated")


@user_app.command("set-role")
def set_role(
    email: str = typer.Argument(..., help="The user's e-mail."),
    role: str = typer.Option(..., help=f"One of {', '.join(ALL_ROLES)}."),
) -> None:
    """Give a user another role; their sessions end (the last active admin cannot be demoted)."""
    try:
        parsed = parse_role(role)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    _act_on(email, lambda s, uid: f"{users.change_role(s, user_id=uid, role=parsed, actor=CLI_ACTOR).email} is {role}")


@user_app.command("reactivate")
def reactivate(email: str = typer.Argument(..., help="The user's e-mail.")) -> None:
    """Let a deactivated user log in again."""
    _act_on(email, lambda s, uid: f"{users.reactivate(s, user_id=uid, actor=CLI_ACTOR).email} reactivated")


@user_app.command("reset-password")
def reset_password(
    email: str = typer.Argument(..., help="The user's e-mail."),
    password: str = typer.Option(..., prompt="Temporary password", hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a temporary password (give it to the user out of band); their sessions end."""
    _act_on(
        email,
        lambda s, uid: (
            f"{users.reset_password(s, user_id=uid, password=password, actor=CLI_ACTOR).email}: "
            "password reset, sessions ended"
        ),
    )


@user_app.command("reset-2fa")
def reset_second_factor(email: str = typer.Argument(..., help="The user's e-mail.")) -> None:
    """Remove a user's authenticator and recovery codes (lost phone); they enrol at the next log-in."""
    _act_on(
        email,
        lambda s, uid: f"{users.reset_second_factor(s, user_id=uid, actor=CLI_ACTOR).email}: two-factor reset",
    )


@user_app.command("revoke-sessions")
def revoke_sessions(email: str = typer.Argument(..., help="The user's e-mail.")) -> None:
    """Log a user out of every browser."""
    _act_on(email, lambda s, uid: f"{users.revoke_sessions(s, user_id=uid, actor=CLI_ACTOR)} sessions ended")


@apikey_app.command("create")
def create_api_key(
    role: str = typer.Option(..., help=f"One of {', '.join(ALL_ROLES)}."),
    name: str = typer.Option("cli", help="A label to recognise the key by."),
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    bootstrap()
    with db.session_scope() as session:
        key, secret = api_keys.issue(session, name=name, role=role, actor=CLI_ACTOR)
    console.print(f"API key {key.id} ({role}); keep it now, it is not shown again:")
    print(secret)


@keys_app.command("rotate")
def rotate(batch: int = typer.Option(500, min=1)) -> None:
    """Re-encrypt every stored value with the first key of RELAIS_ENCRYPTION_KEYS."""
    bootstrap()
    with progress_bar() as bar:
        task = bar.add_task("re-encrypting", total=None)

        def advance(column: str, count: int) -> None:
            bar.update(task, advance=count, description=f"re-encrypting {column}")

        done = keys.rotate(batch=batch, progress=advance)
    with db.session_scope() as session:
        audit.record(session, actor=CLI_ACTOR, action="keys.rotate", target_type="encryption_key",
                     target_id=crypto.keyring().active_kid, diff={"rewritten": done})
    console.print(f"{done} values re-encrypted")
