"""Importing a contact file on a worker: contacts/s, against a bare executemany INSERT of the same rows.

    python -m bench.contact_import --rows 100000 [--database-url URL | --sqlite] [--duplicates 0.01]

Set-up, not timed: a fresh PostgreSQL database on ``--database-url``'s server (``bench.stack.
fresh_database``, dropped after) or, with ``--sqlite``, a SQLite file in a temporary folder, brought
up by the migrations; one contact list; a CSV of ``--rows`` data rows (``phone,first_name,name,
consent``, a French mobile each, consent yes) in which ``--duplicates`` of the rows repeat a number
met much earlier in the file (another batch), stored by ``contacts.import_jobs.start`` (as the API
does: checked, encrypted in 1 MiB chunks; its time is printed apart) with a tag and the list.

In the path, timed: the job's body, ``contacts.import_runner.run`` — the stored upload decrypted
and read as a stream, every row parsed (phonenumbers, language, consent, blind index), 500 rows per
transaction: duplicates within the file (``contact_import_numbers``), existing contacts and the
suppression list looked up, contacts inserted (phone and names encrypted), their tags, list
memberships and consent-ledger rows, the import's cursor, counts and warnings, the end (audit). Not
in the path: the HTTP upload, RQ (a job's fixed cost is ``bench.job_overhead``'s).

The limit, timed in the same run on the same database: the same contact rows (already parsed, with
their blind index) written by one bare executemany ``INSERT INTO contacts`` per 500 rows and
transaction, encryption included (the column types do it) — no parsing, no look-up, no tag, list
or ledger row: what storing the contacts costs at the least. The contacts tables are emptied
between the two (TRUNCATE / DELETE), the limit runs first.

Printed: rows/s, this process's processor time and the PostgreSQL backends' per row for the path
and the limit, the ratios, and the path's growth — the mean wall and processor time of the last
tenth of its batches over the first tenth (about 1 when the import is linear in the file's size; a
look-up that scans what earlier batches wrote makes it grow with the file). On this shared machine
the processor time moves less with the other jobs than the wall time.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.cpu import timed
from bench.stack import add_store_arguments, in_process_deployment

BATCH = 500


def file_rows(rows: int, duplicates: float) -> list[str]:
    """The CSV's lines: every ``1/duplicates``-th row repeats the number of a row about half the file back."""
    every = round(1 / duplicates) if duplicates > 0 else 0
    lines = ["phone,first_name,name,consent"]
    for i in range(rows):
        n = i // 2 - i // 2 % every if every > 1 and i % every == every - 1 else i  # never a repeat itself
        lines.append(f"+336{10_000_000 + n},Client{n},Martin {n},yes")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--duplicates", type=float, default=0.01, help="share of rows repeating an earlier number")
    add_store_arguments(parser)
    args = parser.parse_args()

    with in_process_deployment(args) as url:
        from contacts import import_jobs, import_runner, service
        from contacts.file_limits import FileLimits
        from contacts.import_report import ImportOptions
        from contacts.models import Contact, ContactImport
        from core import db
        from core.audit import SYSTEM
        from core.crypto import blind_index
        from core.settings import get_settings

        engine = db.engine()
        database = None if args.sqlite else make_url(url).database
        lines = file_rows(args.rows, args.duplicates)
        body = ("\n".join(lines) + "\n").encode()
        unique = sorted({line.split(",")[0] for line in lines[1:]})
        with db.session_scope() as session:
            list_id = service.create_list(session, name="bench").id

        table: sa.Table = Contact.__table__  # type: ignore[assignment]
        values = [{"phone": p, "phone_index": blind_index(p), "country": "FR", "name": f"Martin {p[-8:]}",
                   "first_name": f"Client {p[-8:]}", "timezone": "Europe/Paris", "attributes": {}, "tags": ["bench"],
                   "opted_out": False, "consent_status": "opted_in", "external_ids": {}, "erased": False}
                  for p in unique]  # fmt: skip

        def bare() -> None:
            for start in range(0, len(values), BATCH):
                with engine.begin() as conn:
                    conn.execute(table.insert(), values[start : start + BATCH])

        limit = timed(database, bare)
        with engine.begin() as conn:
            if args.sqlite:
                conn.execute(sa.text("DELETE FROM contacts"))
            else:
                conn.execute(sa.text("TRUNCATE contacts CASCADE"))

        stored = time.perf_counter()
        with db.session_scope() as session:
            job = import_jobs.start(
                session, io.BytesIO(body), filename="bench.csv", limits=FileLimits.of(get_settings()), actor=SYSTEM,
                options=ImportOptions(region="FR", tags=("bench",), list_ids=(list_id,), source_name="bench"),
                enqueue=False,
            )  # fmt: skip
            import_id = job.id
        stored = time.perf_counter() - stored

        batches: list[tuple[float, float]] = []  # wall and process processor seconds per batch
        mark = [(time.perf_counter(), time.process_time())]

        def progress(_: ContactImport) -> None:
            now = (time.perf_counter(), time.process_time())
            batches.append((now[0] - mark[0][0], now[1] - mark[0][1]))
            mark[0] = now

        status: list[str] = []
        mark[0] = (time.perf_counter(), time.process_time())
        path = timed(database, lambda: status.append(import_runner.run(import_id, progress=progress)))
        with db.session_scope() as session:
            done = session.get_one(ContactImport, import_id)
            counts = (done.status, done.created, done.skipped, done.rejected)
            in_table = session.scalar(sa.select(sa.func.count()).select_from(Contact))
        if counts != ("succeeded", len(unique), args.rows - len(unique), 0) or in_table != len(unique):
            raise SystemExit(f"unexpected outcome: status, created, skipped, rejected = {counts}; {in_table} rows")

        tenth = max(1, (len(batches) - 1) // 10)  # the last progress call is the end, not a batch
        first, last = batches[:tenth], batches[-1 - tenth : -1]
        print(
            f"{args.rows:,} rows ({len(unique):,} numbers, {args.rows - len(unique):,} repeated), {BATCH} per "
            f"transaction, {engine.dialect.name}; upload stored in {stored:.1f} s (not in the path)"
        )
        print("  " + path.line("path", args.rows, "row"))
        print("  " + limit.line("limit", len(unique), "row"))
        cpu = (
            f", postgresql processor time x{path.database_cpu / limit.database_cpu:.1f}"
            if path.database_cpu is not None and limit.database_cpu
            else ""
        )
        print(
            f"path / limit: rows/s {(limit.seconds / len(unique)) / (path.seconds / args.rows):.2f}, "
            f"process processor time x{path.process_cpu / limit.process_cpu:.1f}{cpu}"
        )
        print(
            f"path growth, last tenth of the batches / first tenth: wall {_growth(first, last, 0)}, "
            f"process processor time {_growth(first, last, 1)}"
        )


def _growth(first: list[tuple[float, float]], last: list[tuple[float, float]], which: int) -> str:
    before, after = statistics.mean(b[which] for b in first), statistics.mean(b[which] for b in last)
    return f"{after * 1000:.0f} / {before * 1000:.0f} ms = {after / before:.2f}" if before > 0 else "n/a"


if __name__ == "__main__":
    main()
