"""``relais contacts import FILE``, ``relais contacts export ID``, ``relais contacts erase ID``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import typer

from api import privacy
from cli.console import console, progress_bar
from contacts import service
from contacts.importer import ImportFailed, ImportOptions, ImportReport, OnExisting, import_file
from contacts.tabular import is_xlsx, xlsx_row_estimate
from core import audit, db
from core.errors import RelaisError
from core.runtime import bootstrap

contacts_app = typer.Typer(help="Contacts: import, privacy export and erasure.", no_args_is_help=True)
CLI_ACTOR = audit.Actor(type="cli", id="relais-cli", name="relais CLI")


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")


def _mapping(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        found = json.loads(text)
    except ValueError:
        raise typer.BadParameter("--mapping must be JSON or a JSON file") from None
    if not isinstance(found, dict):
        raise typer.BadParameter('--mapping must be an object {"file column": "field"}')
    return {str(k): str(v) for k, v in found.items()}


def _estimate_rows(binary: IO[bytes], filename: str) -> int | None:
    if is_xlsx(binary, filename):
        return xlsx_row_estimate(binary)
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: binary.read(1 << 20), b""))
    binary.seek(0)
    return max(lines - 1, 0)


def _print_report(report: ImportReport) -> None:
    for problem in report.errors[:50]:
        console.print(f"[red]row {problem.row}[/] {problem.column}: {problem.code}: {problem.message}")
    for problem in report.warnings[:20]:
        console.print(f"[yellow]row {problem.row}[/] {problem.column}: {problem.code}: {problem.message}")
    console.print(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, {report.skipped} skipped, "
        f"{report.error_count} invalid"
    )


@contacts_app.command("import")
def import_contacts(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A CSV (UTF-8) or XLSX file."),
    mapping: str | None = typer.Option(
        None, help='JSON {"file column": "phone"|"name"|"attribute:x"...} or a file'
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report, write nothing."),
    on_existing: str = typer.Option("merge", help="merge, skip or error for numbers already known."),
    require_consent: bool = typer.Option(False, "--require-consent", help="Every row needs consent=yes."),
    list_id: list[int] = typer.Option([], "--list", help="Add every imported contact to this list id."),
    tag: list[str] = typer.Option([], "--tag", help="Tag every imported contact."),
) -> None:
    """Import contacts, all or nothing, with a row-by-row report."""
    if on_existing not in ("merge", "skip", "error"):
        raise typer.BadParameter("--on-existing must be merge, skip or error")
    policy: OnExisting = on_existing  # type: ignore[assignment]
    settings = bootstrap()
    options = ImportOptions(
        mapping=_mapping(mapping),
        on_existing=policy,
        require_consent=require_consent,
        dry_run=dry_run,
        region=settings.default_region,
        list_ids=tuple(list_id),
        tags=tuple(tag),
        source_name=file.name,
    )
    with file.open("rb") as binary, progress_bar() as bar:
        task = bar.add_task(
            "importing" if not dry_run else "validating", total=_estimate_rows(binary, file.name)
        )
        try:
            with db.session_scope() as session:
                report = import_file(
                    session,
                    binary,
                    options,
                    filename=file.name,
                    actor=CLI_ACTOR,
                    progress=lambda done: bar.update(task, completed=done),
                )
                if not dry_run:
                    audit.record(
                        session,
                        actor=CLI_ACTOR,
                        action="contacts.import",
                        target_type="contact_import",
                        diff={"rows": report.rows, "created": report.created, "updated": report.updated},
                    )
        except ImportFailed as exc:
            bar.stop()
            _print_report(exc.report)
            console.print("[red]nothing was imported[/]")
            raise typer.Exit(1) from None
        except RelaisError as exc:
            bar.stop()
            console.print(f"[red]{exc.detail}[/]")
            raise typer.Exit(1) from None
    _print_report(report)
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
