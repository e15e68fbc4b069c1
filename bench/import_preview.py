"""The import wizard's preview of a large workbook: the first reading, then a change of a column's field.

    python -m bench.import_preview --rows 400000 [--database-url URL | --sqlite]

Set-up, not timed: a fresh PostgreSQL database on ``--database-url``'s server (``bench.stack.fresh_database``,
dropped after) or, with ``--sqlite``, a SQLite file in a temporary folder, brought up by the migrations (the
embedded Redis of the deployment's data folder takes the queued preview jobs, which this process runs itself);
an XLSX of ``--rows`` contacts as an export writes it (a title row, then ``Téléphone, Prénom, Nom, Ville,
Consentement, Date d'inscription, Notes``: the phone a number, the date an Excel serial) and a CSV of the same
rows; each stored as the console's upload stores it (``contacts.import_drafts.save``: encrypted chunks in the
database).

Timed, the preview job's body (``contacts.import_drafts.run``) as the page waits for it: the first preview of
the workbook (the upload decrypted, the whole file checked, its first rows read and kept with the draft), then
one change of a column's field (``import_drafts.choose``, then the job again: it previews from the rows kept,
not from the file), and the first preview of the CSV for comparison. The workbook's first reading is the
floor of what it costs to read it at all (its XML checked, openpyxl's shared strings); the change should cost
no more than the CSV's preview. Printed: seconds per step and the workbook's first reading over its change.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Iterator

from bench.stack import add_store_arguments, in_process_deployment

COLUMNS = ["Téléphone", "Prénom", "Nom", "Ville", "Consentement", "Date d'inscription", "Notes"]
CITIES = ("Paris", "Lyon", "Marseille", "Nantes")


def _rows(count: int) -> Iterator[list[object]]:
    for n in range(count):
        yield [33_600_000_000 + n, f"Prénom{n}", f"Nom de famille {n}", CITIES[n % 4], ("oui", "non", "")[n % 3],
               40_000 + n % 3_000, f"note libre numéro {n}"]  # fmt: skip


def workbook(count: int) -> bytes:
    """The export: a title above the header."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Clients")
    sheet.append(["Clients – export du 12/11/2026"])
    sheet.append(COLUMNS)
    for row in _rows(count):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_file(count: int) -> bytes:
    lines = [";".join(COLUMNS)] + [";".join(str(cell) for cell in row) for row in _rows(count)]
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    add_store_arguments(parser)
    args = parser.parse_args()

    with in_process_deployment(args):
        from contacts import import_drafts
        from contacts.import_report import ImportOptions
        from core import db
        from core.audit import SYSTEM
        from core.redis import stop_embedded

        made = time.perf_counter()
        files = {"warm-up": csv_file(1), "xlsx": workbook(args.rows), "csv": csv_file(args.rows)}
        made = time.perf_counter() - made
        drafts = {}
        for kind, data in files.items():
            with db.session_scope() as session:
                name = f"clients.{'xlsx' if kind == 'xlsx' else 'csv'}"
                options = ImportOptions(region="FR", source_name=name).to_json()
                draft = import_drafts.save(
                    session, io.BytesIO(data), kind="contacts", filename=name, options=options, actor=SYSTEM
                )
                drafts[kind] = draft.id

        def job(kind: str) -> float:
            started = time.perf_counter()
            if import_drafts.run(drafts[kind]) != "previewed":
                raise SystemExit(f"the {kind} preview failed")
            return time.perf_counter() - started

        job("warm-up")  # the modules a preview imports, loaded once
        first = job("xlsx")
        with db.session_scope() as session:
            draft = import_drafts.get(session, drafts["xlsx"], kind="contacts")
            mapping = {**draft.options["mapping"], "Notes": "ignore", "Ville": "tags"}
            import_drafts.choose(session, draft, {**draft.options, "mapping": mapping})
        change = job("xlsx")
        with db.session_scope() as session:
            shown = import_drafts.shown(import_drafts.get(session, drafts["xlsx"], kind="contacts"))["preview"]
        if not shown or shown["columns"][3]["target"] != "tags":
            raise SystemExit("the change of column was not previewed")
        plain = job("csv")
        sizes = {kind: f"{len(data) / 1_048_576:.1f} MB" for kind, data in files.items()}
        print(f"{args.rows:,} rows, {db.engine().dialect.name}; xlsx {sizes['xlsx']}, csv {sizes['csv']} "
              f"(made in {made:.0f} s, not timed)")  # fmt: skip
        print(f"  xlsx, first preview (the whole file read):  {first:7.2f} s")
        print(f"  xlsx, a column's field changed:             {change:7.2f} s")
        print(f"  csv, first preview:                         {plain:7.2f} s")
        print(f"first reading / change: x{first / max(change, 1e-6):,.0f}")
        stop_embedded()  # while its data folder is there to save into


if __name__ == "__main__":
    main()
