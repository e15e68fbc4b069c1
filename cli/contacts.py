"""``relais contacts import FILE``, ``relais contacts export ID``, ``relais contacts erase ID``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api import privacy
from cli.actor import CLI_ACTOR
from cli.console import console, progress_bar
from contacts import import_jobs, import_runner, service
from contacts.file_limits import FileLimits
from contacts.import_mapping import parse_mapping
from contacts.import_report import ImportOptions, OnExisting
from contacts.models import ContactImport
from core import db
from core.errors import RelaisError, ValidationFailed
from core.runtime import bootstrap
from core.words import counted

contacts_app = typer.Typer(help="Contacts: import, privacy export and erasure.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")


def read_mapping(value: str | None) -> dict[str, str] | None:
    """The ``--mapping`` option of the contact and order imports: JSON text, or the path of a file holding it.

    Raises:
        typer.BadParameter: neither is a JSON object of strings (``contacts.import_mapping.parse_mapping``).
    """
    if not value:
        return None
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        return parse_mapping(text)
    except ValidationFailed as exc:
        raise typer.BadParameter(f"--mapping: {exc.detail} (JSON text or a JSON file)") from None


def _print_report(job: ContactImport) -> None:
    with db.session_scope() as session:
        errors = import_jobs.problems(session, job.id, errors=True, limit=20)
        warnings = import_jobs.problems(session, job.id, errors=False, limit=20)
    for problem in errors:
        console.print(f"[red]row {problem.row}[/] {problem.column}: {problem.code}: {problem.message}")
    for problem in warnings:
        console.print(f"[yellow]row {problem.row}[/] {problem.column}: {problem.code}: {problem.message}")
    for notice in import_jobs.notices(job):
        console.print(f"[yellow]{notice}[/]")
    console.print(
        f"{counted(job.rows_done, 'row')}: {job.created} created, {job.updated} updated, {job.unchanged} unchanged, "
        f"{job.skipped} skipped, "
        f"{job.rejected} rejected, {counted(job.warning_count, 'warning')}"
    )


@contacts_app.command("import")
def import_contacts(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A CSV (any usual encoding) or XLSX file."),
    mapping: str | None = typer.Option(
        None,
        help='Overrides of the automatic mapping: JSON {"file column": "phone"|"attribute:x"|"ignore"...} or a file',
    ),
    strict: bool = typer.Option(False, "--strict", help="All or nothing: one invalid row and nothing is imported."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the whole file, write no contact."),
    on_existing: str = typer.Option("merge", help="merge, skip or error for numbers already known."),
    require_consent: bool = typer.Option(False, "--require-consent", help="Every row needs consent=yes."),
    language_from_country: bool = typer.Option(
        False,
        "--language-from-country",
        help="A row without a language gets its number's country's main language where one is the norm "
        "(FR, ES, DE, US…; not BE, CH, CA, LU); a contact's language on record is kept.",
    ),
    list_id: list[int] = typer.Option([], "--list", help="Add every imported contact to this list id."),
    tag: list[str] = typer.Option([], "--tag", help="Tag every imported contact."),
    rejected: Path | None = typer.Option(
        None, "--rejected", help="Where to write the rejected rows (default: FILE.rejected.csv beside FILE)."
    ),
) -> None:
    """Import contacts: valid rows go in, invalid ones are written to a rejected-rows CSV (row number, reason)."""
    if on_existing not in ("merge", "skip", "error"):
        raise typer.BadParameter("--on-existing must be merge, skip or error")
    policy: OnExisting = on_existing  # type: ignore[assignment]
    settings = bootstrap()
    options = ImportOptions(
        mapping=read_mapping(mapping),
        on_existing=policy,
        require_consent=require_consent,
        language_from_country=language_from_country,
        dry_run=dry_run,
        strict=strict,
        region=settings.default_region,
        list_ids=tuple(list_id),
        tags=tuple(tag),
        source_name=file.name,
    )
    try:
        with file.open("rb") as binary, db.session_scope() as session:
            job = import_jobs.start(
                session, binary, filename=file.name, options=options, limits=FileLimits.of(settings),
                actor=CLI_ACTOR, enqueue=False,
            )  # fmt: skip
    except RelaisError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None
    with progress_bar() as bar:
        task = bar.add_task(job.phase, total=job.rows_total)
        status = import_runner.run(
            job.id, progress=lambda j: bar.update(task, completed=j.rows_done, description=j.phase)
        )
    with db.session_scope() as session:
        job = import_jobs.get(session, job.id)
        if job.rejected:
            target = rejected or file.with_name(f"{file.stem}.rejected.csv")
            with target.open("w", encoding="utf-8-sig", newline="") as out:  # with a BOM, so Excel reads UTF-8
                out.writelines(import_jobs.rejected_csv(session, job))
    _print_report(job)
    if job.rejected:
        console.print(f"{counted(job.rejected, 'rejected row')} written to {target}")
    if status != "succeeded":
        console.print(f"[red]import {status}: {job.error or 'nothing more was imported'}[/]")
        raise typer.Exit(1)
    console.print("dry run: nothing written" if dry_run else "[green]imported[/]")


@contacts_app.command("export")
def export_person(
    contact_id: int,
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here instead of stdout."),
) -> None:
    """Everything held on one person (privacy request), as JSON; audited."""
    bootstrap()
    with db.session_scope() as session:
        try:
            document = privacy.export_person(session, service.get(session, contact_id), actor=CLI_ACTOR)
        except RelaisError as exc:
            console.print(f"[red]{exc.detail}[/]")
            raise typer.Exit(1) from None
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if out is None:
        print(text)
    else:
        out.write_text(text)
        console.print(f"written to {out}")


@contacts_app.command("erase")
def erase_person(
    contact_id: int,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a person's data, keeping the consent tombstone so the number is never texted again."""
    bootstrap()
    if not yes:
        typer.confirm(f"Erase contact {contact_id}'s personal data? This cannot be undone", abort=True)
    with db.session_scope() as session:
        try:
            counts = privacy.erase_person(session, service.get(session, contact_id), actor=CLI_ACTOR)
        except RelaisError as exc:
            console.print(f"[red]{exc.detail}[/]")
            raise typer.Exit(1) from None
    console.print(f"contact {contact_id} erased ({counts['messages']} message bodies wiped)")
