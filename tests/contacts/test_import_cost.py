"""What one batch of a contact import costs the database whatever the tables already hold: the same
statements, and on PostgreSQL the same rows read, for a batch written after 20 or after 4,000 rows
of the same file (contacts, numbers seen earlier in the file, list members). A look-up that read
what earlier batches wrote made a 100,000-row import quadratic (``bench/contact_import.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from contacts import service
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions, ParsedRow
from contacts.import_runner import BATCH_ROWS, TableSeen
from contacts.import_writer import BatchOutcome, write_batch
from contacts.importer import RowParser
from contacts.models import ContactImport
from core import db
from core.settings import Settings
from tests.contacts.helpers import create_contact, phone

_TABLES = ("contacts", "contact_import_numbers", "contact_list_members", "suppressions", "contact_tags")
_ROWS_READ = text(
    "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) "
    "FROM pg_stat_xact_user_tables WHERE relname = ANY(:tables)"
)
EXISTING = 900_000  # numbers of contacts made before the import (merged by the measured batch)


def _rows(parser: RowParser, numbers: list[int], first_row: int) -> list[ParsedRow]:
    parsed = [parser.parse(first_row + i, [phone(n), f"Client {n}", "oui"])[0] for i, n in enumerate(numbers)]
    return [row for row in parsed if row is not None]


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)


def _rows_read(session: Session) -> int:
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return int(session.scalar(_ROWS_READ, {"tables": list(_TABLES)}) or 0)


def _measured_batch(earlier: int) -> tuple[list[str], int, BatchOutcome]:
    """Write ``earlier`` rows of a file in batches, then one more batch: its statements, the rows it
    read (PostgreSQL) and its outcome. The batch has 480 new numbers, 10 numbers of earlier batches
    and 10 existing contacts, the same whatever ``earlier`` is."""
    with db.session_scope() as session:
        list_id = service.create_list(session, name="fair").id
        for n in range(10):
            create_contact(session, EXISTING + n)
        job = ContactImport(status="running", phase="importing", format="csv", encoding="utf-8", delimiter=",",
                            options={}, mapping={}, created_by_type="system")  # fmt: skip
        session.add(job)
        session.flush()
        import_id = job.id
    options = ImportOptions(region="FR", tags=("fair",), list_ids=(list_id,), source_name="test")
    parser = RowParser(["phone", "name", "consent"], options, {}, FileLimits())
    for start in range(0, earlier, BATCH_ROWS):
        with db.session_scope() as session:
            numbers = list(range(start, min(earlier, start + BATCH_ROWS)))
            write_batch(session, _rows(parser, numbers, 2 + start), options=options, known={},
                        seen=TableSeen(import_id))  # fmt: skip
    numbers = [*range(earlier, earlier + 480), *range(10), *range(EXISTING, EXISTING + 10)]
    batch = _rows(parser, numbers, 2 + earlier)
    with db.session_scope() as session, _statements() as statements:
        before = _rows_read(session)
        outcome = write_batch(session, batch, options=options, known={}, seen=TableSeen(import_id))
        read = _rows_read(session) - before
    return [s for s in statements if "pg_stat_xact_user_tables" not in s], read, outcome


def _empty_contacts() -> None:
    with db.session_scope() as session:
        for table in ("contact_import_numbers", "contact_imports", "contact_list_members", "contact_lists",
                      "contact_tags", "consent_events", "contacts"):  # fmt: skip
            session.execute(text(f"DELETE FROM {table}"))


def test_a_batch_costs_the_same_after_4000_rows_as_after_20(runtime_any_db: Settings) -> None:
    small, small_read, outcome = _measured_batch(20)
    _empty_contacts()
    large, large_read, large_outcome = _measured_batch(4_000)

    for earlier, found in ((20, outcome), (4_000, large_outcome)):
        assert (found.created, found.updated, found.skipped) == (480, 10, 10)
        duplicates = [(p.row, p.code, p.message) for p in found.problems]
        assert duplicates == [
            (2 + earlier + 480 + n, "duplicate_in_file", f"the same number as row {2 + n}; this row was skipped")
            for n in range(10)
        ]  # numbers 0-9 were rows 2-11, in the first batch
    assert len(large) == len(small)  # e.g. no statement per merged contact or per earlier batch
    # the rows a batch reads are its own: 500 contacts, numbers, members and tags looked up, not 4,000
    assert large_read <= small_read + 20, (small_read, large_read)
