"""The body of a contact import job: the stored upload read as a stream, written in short batches.

Each batch of :data:`BATCH_ROWS` rows is one transaction that also moves the job's ``cursor``,
adds the rejected rows and warnings, and checks ``cancel_requested``: SQLite's write lock is held a
fraction of a second at a time, a retried job resumes after the cursor, a cancel stops at the next
batch. Strict imports and dry runs first read the whole file in a ``validating`` phase that
writes no contact. See ``contacts.import_jobs`` for starting, cancelling and reading imports.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from typing import IO, Any, cast

from sqlalchemy import Table, delete, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import import_jobs
from contacts.file_limits import FileLimits
from contacts.import_mapping import header_with_phone
from contacts.import_report import ImportOptions, ParsedRow, RowProblem
from contacts.import_writer import write_batch
from contacts.importer import RowParser, numbered_rows
from contacts.models import ContactImport, ContactImportChunk, ContactImportNumber, ContactImportProblem
from contacts.tabular import FileShape, read_table
from core import crypto, db
from core.audit import Actor
from core.db import utcnow
from core.errors import RelaisError, ValidationFailed
from core.settings import get_settings
from core.words import counted

BATCH_ROWS = 500
SPOOL_MEMORY = 8 * 1024 * 1024  # the worker's local copy of the upload spills to a temporary file past this


class ImportCancelled(Exception):
    """Someone asked to stop; raised inside a batch's transaction so the batch is rolled back."""


class TableSeen:
    """Numbers met earlier in the file, in ``contact_import_numbers``: flat memory, and they survive
    a retry (written in each batch's transaction).

    One upsert per batch both remembers the batch's numbers and reads back the first row of those
    met before: each number is one probe of the primary key, whatever the table holds. A SELECT
    ``WHERE import_id = ? AND phone_index IN (...)`` was planned on PostgreSQL, before the growing
    table was analysed, as a scan of every number of the import (one import id), so each batch
    read all earlier ones: quadratic in the file's size.
    """

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id

    def earlier(self, session: Session, firsts: Mapping[str, int]) -> dict[str, int]:
        if not firsts:
            return {}
        if session.get_bind().dialect.name == "postgresql":
            # arrays, not 500 VALUES: a short statement psycopg parses once (core.sql.among says why)
            params = {"import_id": self.import_id, "indexes": list(firsts), "rows": list(firsts.values())}
            stored = session.execute(_UPSERT_NUMBERS, params)
        else:
            table = cast(Table, ContactImportNumber.__table__)
            stmt = (
                sqlite.insert(table)
                .on_conflict_do_update(
                    index_elements=[table.c.import_id, table.c.phone_index], set_={"row": table.c.row}
                )
                .returning(table.c.phone_index, table.c.row)
            )
            values = [{"import_id": self.import_id, "phone_index": i, "row": r} for i, r in firsts.items()]
            stored = session.execute(stmt, values)
        # a number stored by an earlier batch keeps its row; a new one comes back with its own
        return {index: row for index, row in stored if row != firsts[index]}


_UPSERT_NUMBERS = text(
    "INSERT INTO contact_import_numbers (import_id, phone_index, row) "
    "SELECT :import_id, i, r FROM unnest(CAST(:indexes AS varchar[]), CAST(:rows AS integer[])) AS t(i, r) "
    "ON CONFLICT (import_id, phone_index) DO UPDATE SET row = contact_import_numbers.row "
    "RETURNING phone_index, row"
)


def run(import_id: int, *, progress: Callable[[ContactImport], None] | None = None) -> str:
    """Run (or resume) an import to its end; returns the final status. The job's body.

    File and row problems end the import as ``failed`` with the reason in ``error``; anything
    else (the database going away) propagates so the queue retries, resuming after the cursor.
    """
    with db.session_scope() as session:
        job = session.get(ContactImport, import_id, with_for_update=True)
        if job is None or job.status in import_jobs.FINISHED:
            return job.status if job else "missing"
        if job.cancel_requested:
            import_jobs.finish(session, job, "cancelled")
            return "cancelled"
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        runner = _Runner(job, attrs.schema(session), FileLimits.of(get_settings()), progress)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as binary:
        copy_upload(import_id, binary)
        try:
            status, error = runner.run(binary), ""
        except ImportCancelled:
            status, error = "cancelled", ""
        except RelaisError as exc:
            status, error = "failed", exc.detail
    if status in import_jobs.FINISHED:
        with db.session_scope() as session:
            job = session.get_one(ContactImport, import_id)
            import_jobs.finish(session, job, status, error)
        if progress:
            progress(job)
    return status


def give_up(import_id: int, exc: BaseException) -> None:
    """Mark an import failed after its job's last attempt ended on ``exc`` (not a file problem)."""
    with db.session_scope() as session:
        job = session.get(ContactImport, import_id)
        if job is not None and job.status not in import_jobs.FINISHED:
            reason = f"the import stopped on an unexpected error ({type(exc).__name__}) after its retries"
            import_jobs.finish(session, job, "failed", f"{reason}; rows before row {job.cursor + 1} were imported")


def copy_upload(import_id: int, binary: IO[bytes]) -> None:
    """Write the stored upload of import ``import_id`` into ``binary``, decrypted, and rewind it."""
    with db.session_scope() as session:
        stmt = (
            select(ContactImportChunk.data)
            .where(ContactImportChunk.import_id == import_id)
            .order_by(ContactImportChunk.seq)
            .execution_options(yield_per=1)
        )
        for data in session.scalars(stmt):
            binary.write(crypto.decrypt_bytes(data))
    binary.seek(0)


class _Runner:
    def __init__(
        self,
        job: ContactImport,
        known: attrs.Schema,
        limits: FileLimits,
        progress: Callable[[ContactImport], None] | None,
    ) -> None:
        self.import_id = job.id
        self.phase = job.phase
        self.cursor = job.cursor
        self.options = ImportOptions.from_json(job.options)
        self.shape = FileShape(job.format, job.encoding, job.delimiter, job.rows_total)  # type: ignore[arg-type]
        self.actor = Actor(type=job.created_by_type, id=job.created_by_id)
        self.known = known
        self.limits = limits
        self.progress = progress

    def run(self, binary: IO[bytes]) -> str:
        if self.phase == "validating":
            self._pass(binary, write=False)
            with db.session_scope() as session:
                job = session.get_one(ContactImport, self.import_id)
                _check_rows(job)
                if job.rejected and self.options.strict:
                    invalid = counted(job.rejected, "row is", "rows are")
                    raise RelaisError(f"{invalid} invalid; nothing was imported (strict import)")
                if self.options.dry_run:
                    return "succeeded"
                self._restart_as_import(session, job)
        self._pass(binary, write=True)
        with db.session_scope() as session:
            _check_rows(session.get_one(ContactImport, self.import_id))
        return "succeeded"

    def _restart_as_import(self, session: Session, job: ContactImport) -> None:
        for model in (ContactImportProblem, ContactImportNumber):
            session.execute(delete(model).where(model.import_id == job.id))
        job.phase, job.cursor = "importing", 0
        counters = ("rows_done", "created", "updated", "unchanged", "skipped", "rejected", "warning_count",
                    "without_consent")  # fmt: skip
        for counter in counters:
            setattr(job, counter, 0)
        self.phase, self.cursor = "importing", 0

    def _pass(self, binary: IO[bytes], *, write: bool) -> None:
        binary.seek(0)
        table = read_table(binary, self.shape, self.limits, header_with_phone(self.options.mapping))
        parser = RowParser(table.header, self.options, self.known, self.limits, hidden=table.hidden)
        batch: list[ParsedRow] = []
        found: list[RowProblem] = []
        read = last = 0
        for number, cells in numbered_rows(table.rows, self.limits, start=table.header_row + 1):
            if number <= self.cursor:
                continue  # done before a retry
            row, problems = parser.parse(number, cells)
            found.extend(problems)
            if row is not None:
                batch.append(row)
            read, last = read + 1, number
            if read >= BATCH_ROWS:
                self._commit(batch, found, read, last, write=write)
                batch, found, read = [], [], 0
        if read:
            self._commit(batch, found, read, last, write=write)

    def _commit(self, rows: list[ParsedRow], found: list[RowProblem], read: int, last: int, *, write: bool) -> None:
        with db.session_scope() as session:
            job = session.get_one(ContactImport, self.import_id, with_for_update=True)
            if job.cancel_requested:
                raise ImportCancelled
            outcome = write_batch(
                session, rows, options=self.options, known=self.known, seen=TableSeen(self.import_id),
                actor=self.actor, write=write,
            )  # fmt: skip
            found = found + outcome.problems
            if found:
                session.execute(insert(ContactImportProblem), [_problem_row(self.import_id, p) for p in found])
            job.cursor = self.cursor = last
            job.rows_done += read
            job.created += outcome.created
            job.updated += outcome.updated
            job.unchanged += outcome.unchanged
            job.skipped += outcome.skipped
            job.without_consent += outcome.without_consent
            job.rejected += len({p.row for p in found if p.error})
            job.warning_count += sum(not p.error for p in found)
        if self.progress:
            self.progress(job)


def _check_rows(job: ContactImport) -> None:
    if job.rows_done == 0:
        raise ValidationFailed("the file has a header but no data rows", errors=[{"field": "file"}])


def _problem_row(import_id: int, problem: RowProblem) -> dict[str, Any]:
    return {
        "import_id": import_id,
        "row": problem.row,
        "severity": "error" if problem.error else "warning",
        "column": problem.column[:200],
        "code": problem.code,
        "message": problem.message[:500],
        "cells": list(problem.cells) if problem.cells is not None else None,
    }
