"""``relais run``, ``relais worker``, ``relais migrate``."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import typer

from cli.console import console
from core.runtime import bootstrap
from core.schema import migrate as run_migrations
from core.settings import Settings, get_settings


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("worker")(worker)
    app.command("migrate")(migrate)
    app.command("makemigration")(makemigration)


def migrate() -> None:
    """Bring the database schema to the latest version; train the built-in intents on a fresh deployment."""
    settings = bootstrap()
    run_migrations(settings.resolved_database_url)
    console.print(f"database at [bold]{settings.resolved_database_url.split('@')[-1]}[/] is up to date")
    fill_line_types()
    builtin_intents(settings)


def builtin_intents(settings: Settings) -> None:
    """Give a deployment without an intent model the built-in one, so natural-language opt-outs are
    caught from the first start (agent/intent/builtin.py)."""
    from agent.intent.builtin import ensure_builtin_model
    from agent.runtime import intent_store

    version = ensure_builtin_model(intent_store(settings), backend=settings.intent_backend)
    if version is not None:
        console.print(f"built-in intent model [bold]{version}[/] trained and active")


def fill_line_types() -> None:
    """Record the line type of contacts stored before it was (migration 0018), so landlines are not texted;
    a contact whose number texted us stays textable. Idempotent: nothing to do once filled."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from contacts.line_types import fill_missing
    from conversations.models import Message
    from core.db import session_scope

    def texted_in(session: Session, contact_ids: list[int]) -> set[int]:
        return set(session.scalars(
            select(Message.contact_id).distinct().where(Message.contact_id.in_(contact_ids), Message.direction == "in")
        ))

    filled = fill_missing(session_scope, texted_in=texted_in)
    if filled:
        console.print(f"line type recorded for [bold]{filled:,}[/] existing contacts")


def makemigration(message: str = typer.Argument(..., help="What the migration changes.")) -> None:
    """Write a new Alembic migration from the difference between the models and the database."""
    from alembic import command

    from core.schema import alembic_config

    settings = bootstrap()
    run_migrations(settings.resolved_database_url)
    command.revision(alembic_config(settings.resolved_database_url), message=message, autogenerate=True)


def run(
    port: int | None = typer.Option(None, help="Port (default RELAIS_PORT or 8000)."),
    host: str | None = typer.Option(None, help="Interface (default RELAIS_HOST or 127.0.0.1)."),
    workers_inside: bool = typer.Option(
        True, "--workers/--no-workers", help="Run the job worker and scheduler inside this process."
    ),
) -> None:
    """Serve the API, console and simulator, with the worker and scheduler in-process."""
    import uvicorn

    from api.app import create_app
    from workers.embedded import in_process

    if port is not None:  # before the settings are read (and cached): links and the worker use this port
        os.environ["RELAIS_PORT"] = str(port)
    settings = get_settings()
    bootstrap(settings)
    run_migrations(settings.resolved_database_url)
    fill_line_types()
    builtin_intents(settings)
    app = create_app(settings, background=(lambda: in_process(settings)) if workers_inside else None)
    bind_host = host or settings.host
    bind_port = port or settings.port
    console.print(f"Relais on [bold]http://{bind_host}:{bind_port}[/] (data in {settings.data_dir.resolve()})")
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning", access_log=False)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as a normal exit: uvicorn re-raises it after its graceful shutdown, and the default
    action would end the process before the exit hooks that stop the embedded Redis (core.redis)."""
    sys.exit(128 + signum)


def worker(
    with_scheduler: bool = typer.Option(False, "--with-scheduler", help="Also run the periodic scheduler."),
    burst: bool = typer.Option(False, "--burst", help="Exit once the queues are empty."),
) -> None:
    """Run one RQ worker process over every queue, in priority order (needs RELAIS_REDIS_URL).

    It survives Redis outages: it waits for Redis with backoff and carries on (workers.runner.Supervisor),
    and its worker process keeps its models between jobs, watched by a keeper (workers.keeper).
    """
    from workers.keeper import Keeper
    from workers.scheduler import PeriodicScheduler

    settings = bootstrap()
    if not settings.redis_url:
        console.print("[yellow]RELAIS_REDIS_URL is unset: this worker uses this data directory's embedded Redis[/]")
    supervisor = Keeper()
    if with_scheduler:
        with PeriodicScheduler():
            supervisor.run(burst=burst, with_scheduler=True)
    else:
        supervisor.run(burst=burst)
