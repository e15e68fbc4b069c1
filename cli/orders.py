"""``relais orders import FILE``: customers' order history from a CSV or XLSX file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.actor import CLI_ACTOR
from cli.console import console
from cli.contacts import read_mapping
from contacts.file_limits import FileLimits
from contacts.order_import import OrderImportOptions, OrderImportReport, import_orders
from contacts.order_rejected import RejectedFile
from core import db
from core.errors import RelaisError
from core.runtime import bootstrap
from core.words import counted

orders_app = typer.Typer(help="Orders: the purchase history predictions learn from.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")


def print_report(report: OrderImportReport, *, shown: int = 20) -> None:
    """The counts, the first rejected rows and the reasons of all of them."""
    for problem in sorted(report.errors, key=lambda p: p.row)[:shown]:
        console.print(f"[red]row {problem.row}[/] {problem.column}: {problem.code}: {problem.message}")
    if report.date_order:
        console.print(f"dates read {report.date_order}: {report.date_order_why}")
    for code, count in sorted(report.rejected_by_code.items()):
        console.print(f"  {counted(count, 'row')} {code}")
    console.print(
        f"{counted(report.rows, 'row')}: {counted(report.orders_created, 'order')} created "
        f"({counted(report.lines, 'line')}), {report.orders_existing} already known, "
        f"{report.orders_updated} known and paid or cancelled since (updated), "
        f"{counted(report.error_count, 'row')} rejected, "
        f"{counted(report.unknown_customers, 'customer')} matched no contact"
    )


@orders_app.command("import")
def import_order_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A CSV (any usual encoding) or XLSX file."),
    mapping: str | None = typer.Option(
        None, help='Overrides of the automatic mapping: JSON {"file column": "order_id"|"customer_id"|...} or a file'
    ),
    currency: str = typer.Option("", help="ISO 4217 code for files without a currency column (Online Retail: GBP)."),
    day_first: bool | None = typer.Option(
        None, "--day-first/--month-first",
        help="Slash dates are 31/12/2011 (day first) or 12/31/2011; unset, the file's own dates decide.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Match and check everything, record nothing."),
    rejected: Path | None = typer.Option(
        None, "--rejected", help="Where to write the rejected rows (default: FILE.rejected.csv beside FILE)."
    ),
) -> None:
    """Import orders: whole orders of known customers go in; other rows go to a rejected-rows CSV (row, reason).

    Customers are matched to contacts by the contact attribute customer_id, then phone, then e-mail
    (docs/contacts.md, "Orders"). Importing the same file again records nothing twice.
    """
    settings = bootstrap()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise typer.BadParameter("--currency must be an ISO 4217 code such as EUR")
    options = OrderImportOptions(mapping=read_mapping(mapping), currency=currency.upper(), day_first=day_first,
                                 region=settings.default_region, dry_run=dry_run)  # fmt: skip
    target = rejected or file.with_name(f"{file.stem}.rejected.csv")
    try:
        with (file.open("rb") as binary, target.open("w", encoding="utf-8-sig", newline="") as out,
              db.session_scope() as session):  # fmt: skip
            rejected_file = RejectedFile(out)
            with console.status(f"importing {file.name}"):
                report = import_orders(session, binary, options, filename=file.name, limits=FileLimits.of(settings),
                                       rejected=rejected_file, commit=True, actor=CLI_ACTOR)  # fmt: skip
    except RelaisError as exc:
        target.unlink(missing_ok=True)
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None
    print_report(report)
    if rejected_file.rows:
        console.print(f"{counted(rejected_file.rows, 'rejected row')} written to {target}")
    else:
        target.unlink(missing_ok=True)
    console.print("dry run: nothing written" if dry_run else "[green]imported[/]")
