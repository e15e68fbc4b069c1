"""``relais user create``, ``relais apikey create``, ``relais keys rotate``."""

from __future__ import annotations

import typer

from cli.console import console, progress_bar
from core import accounts, audit, db, keys
from core.rbac import ALL_ROLES
from core.runtime import bootstrap

user_app = typer.Typer(help="Console users.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
CLI_ACTOR = audit.Actor(type="cli", id="relais-cli", name="relais CLI")


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


@apikey_app.command("create")
def create_api_key(
    role: str = typer.Option(..., help=f"One of {', '.join(ALL_ROLES)}."),
    name: str = typer.Option("cli", help="A label to recognise the key by."),
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    bootstrap()
    with db.session_scope() as session:
        key, secret = accounts.create_api_key(session, name=name, role=role)
        audit.record(
            session,
            actor=CLI_ACTOR,
            action="apikey.create",
            target_type="api_key",
            target_id=key.id,
            diff={"role": role, "name": name},
        )
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
        audit.record(session, actor=CLI_ACTOR, action="keys.rotate", diff={"rewritten": done})
    console.print(f"{done} values re-encrypted")
