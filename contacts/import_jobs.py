"""Contact imports as background jobs: the upload kept in the database, imported in short batches.

Why the database and not a disk: every API host and worker reads the same ``contact_import_chunks``
(1 MiB pieces, AES-GCM encrypted like other personal data), and the bytes go when the import ends.
The worker copies them to a local spooled file (XLSX needs to seek), reads rows as a stream and
writes :data:`BATCH_ROWS` rows per transaction, so SQLite's single write lock is held for a
fraction of a second at a time and texts, sends and logins go on during a large import.

Each batch's transaction also moves the job's ``cursor`` (the last spreadsheet row done), adds the
rows it rejected and the warnings, and checks ``cancel_requested``: a retried job resumes after the
cursor, a cancel stops at the next batch. Strict imports (all or nothing) and dry runs first read
the whole file in a ``validating`` phase that writes no contact. Finished imports, with their
rejected rows, are deleted after :data:`RETENTION`.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.import_report import ImportOptions, RowProblem
from contacts.importer import ParsedRow, RowParser, first_row, numbered_rows, write_batch
from contacts.models import ContactImport, ContactImportChunk, ContactImportNumber, ContactImportProblem
from contacts.service import get_list
from contacts.tabular import FileLimits, FileShape, inspect, read_rows
from core import audit, crypto, db
from core.audit import SYSTEM, Actor
from core.db import utcnow
from core.errors import Conflict, NotFound, RelaisError, ValidationFailed
from core.queue import JobSpec, RetryPolicy, enqueue_after_commit
from core.settings import get_settings

CHUNK_BYTES = 1 << 20
BATCH_ROWS = 500
RETENTION = timedelta(days=7)
FINISHED = ("succeeded", "failed", "cancelled")
JOB_RETRY = RetryPolicy(max=3, intervals=(10, 60, 300))  # a retry resumes after the cursor
JOB_TIMEOUT = 4 * 3600
SPOOL_MEMORY = 8 * 1024 * 1024
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_CHARS = frozenset("0123456789 .()-+")


class ImportCancelled(Exception):
    """Someone asked to stop; raised inside a batch's transaction so the batch is rolled back."""


def start(
    session: Session,
    binary: IO[bytes],
    *,
    filename: str,
    options: ImportOptions,
    limits: FileLimits,
    actor: Actor,
    enqueue: bool = True,
) -> ContactImport:
    """Check the file, store it and queue its import (after the caller commits); audited.

    The header and mapping are resolved now, so a file without a phone column is refused here
    (422) rather than failing later in the worker. ``enqueue=False`` leaves the job for the caller
    to :func:`run` inline (the CLI).

    Raises:
        PayloadTooLarge / ValidationFailed: as :func:`contacts.tabular.inspect` and
            :class:`contacts.importer.RowParser`; NotFound: a list in ``options.list_ids``.
    """
    for list_id in options.list_ids:
        get_list(session, list_id)
    shape = inspect(binary, filename, limits)
    parser = RowParser(first_row(read_rows(binary, shape, limits)), options, attrs.schema(session), limits)
    binary.seek(0)
    purge_finished(session)
    job = ContactImport(
        status="pending",
        phase="validating" if options.strict or options.dry_run else "importing",
        filename=filename[:255],
        format=shape.format,
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        options=options.to_json(),
        mapping={"header": parser.header, "columns": [c.as_dict() for c in parser.columns]},
        rows_total=shape.rows_estimate,
        created_by_type=actor.type,
        created_by_id=actor.id,
    )
    session.add(job)
    session.flush()
    size = seq = 0
    chunks = _table(ContactImportChunk)
    for chunk in iter(lambda: binary.read(CHUNK_BYTES), b""):
        # Core inserts: the session's identity map would otherwise keep every chunk in memory
        session.execute(insert(chunks), {"import_id": job.id, "seq": seq, "data": crypto.encrypt_bytes(chunk)})
        seq += 1
        size += len(chunk)
    job.size_bytes, job.chunk_count = size, seq
    audit.record(
        session,
        actor=actor,
        action="contacts.import.start",
        target_type="contact_import",
        target_id=job.id,
        diff={"format": shape.format, "size_bytes": size, "strict": options.strict, "dry_run": options.dry_run},
    )
    if enqueue:
        enqueue_after_commit(
            session,
            JobSpec(
                "contacts.tasks.run_import",
                args=(job.id,),
                job_id=f"contacts-import:{job.id}",
                queue="default",
                retry=JOB_RETRY,
                timeout=JOB_TIMEOUT,
            ),
        )
    return job


def get(session: Session, import_id: int) -> ContactImport:
    found = session.get(ContactImport, import_id)
    if found is None:
        raise NotFound(f"import {import_id} not found")
    return found


def recent(session: Session, limit: int = 50) -> list[ContactImport]:
    """The latest imports, newest first."""
    return list(session.scalars(select(ContactImport).order_by(ContactImport.id.desc()).limit(limit)))


def cancel(session: Session, import_id: int, *, actor: Actor) -> ContactImport:
    """Ask a pending or running import to stop (it stops at its next batch); audited.

    Raises:
        NotFound; Conflict: the import already finished.
    """
    job = get(session, import_id)
    if job.status in FINISHED:
        raise Conflict(f"import {import_id} already {job.status}")
    job.cancel_requested = True
    if job.status == "pending":
        _finish(session, job, "cancelled")
    audit.record(session, actor=actor, action="contacts.import.cancel", target_type="contact_import", target_id=job.id)
    return job


def percent(job: ContactImport) -> float:
    """Progress of the current phase, 0-100 (100 only once the import succeeded)."""
    if job.status == "succeeded":
        return 100.0
    if not job.rows_total:
        return 0.0
    return round(min(99.9, 100 * job.rows_done / job.rows_total), 1)


def notices(job: ContactImport) -> list[str]:
    """Sentences about the whole import for the person who ran it (the consent policy's, today)."""
    found = consent.marketing_consent_warning(job.without_consent) if job.phase == "importing" else None
    return [found] if found else []


def problems(session: Session, import_id: int, *, errors: bool, limit: int = 100) -> list[ContactImportProblem]:
    """The first rejected rows' reasons (``errors``) or warnings, by row."""
    stmt = (
        select(ContactImportProblem)
        .where(
            ContactImportProblem.import_id == import_id,
            ContactImportProblem.severity == ("error" if errors else "warning"),
        )
        .order_by(ContactImportProblem.row, ContactImportProblem.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def rejected_rows(session: Session, job: ContactImport) -> Iterator[list[str]]:
    """The rejected-rows file: ``row`` (the spreadsheet's number), ``reason``, then the row as uploaded."""
    yield ["row", "reason", *job.mapping.get("header", [])]
    stmt = (
        select(ContactImportProblem)
        .where(ContactImportProblem.import_id == job.id, ContactImportProblem.severity == "error")
        .order_by(ContactImportProblem.row, ContactImportProblem.id)
        .execution_options(yield_per=1000)
    )
    current: list[ContactImportProblem] = []
    for problem in session.scalars(stmt):
        if current and current[0].row != problem.row:
            yield _rejected_line(current)
            current = []
        current.append(problem)
    if current:
        yield _rejected_line(current)


def rejected_csv(session: Session, job: ContactImport) -> Iterator[str]:
    """:func:`rejected_rows` as CSV text chunks, spreadsheet formulas neutralised (API and CLI)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in rejected_rows(session, job):
        writer.writerow([_safe(cell) for cell in line])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _safe(cell: str) -> str:
    """``'=HYPERLINK(...)`` so a spreadsheet shows it as text; signed numbers (``+33 6 12 34 56 78``,
    ``-4``) stay as typed, since they are the phone numbers a person fixes and imports again."""
    if cell[:1] in _FORMULA_STARTS and not (cell[:1] in "+-" and set(cell) <= _NUMBER_CHARS):
        return "'" + cell
    return cell


def _rejected_line(found: list[ContactImportProblem]) -> list[str]:
    reason = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in found)
    cells = next((p.cells for p in found if p.cells is not None), [])
    return [str(found[0].row), reason, *cells]


def purge_finished(session: Session, *, now: datetime | None = None) -> int:
    """Delete imports that finished more than :data:`RETENTION` ago, with their rejected rows."""
    cutoff = (now or utcnow()) - RETENTION
    # the problems, chunks and numbers go with them (ON DELETE CASCADE)
    result = session.execute(delete(ContactImport).where(ContactImport.finished_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- the job --------------------------------------------------------------------------------------


class TableSeen:
    """Numbers met earlier in the file, in ``contact_import_numbers``: flat memory, and they survive
    a retry (written in each batch's transaction)."""

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id

    def earlier(self, session: Session, firsts: Mapping[str, int]) -> dict[str, int]:
        if not firsts:
            return {}
        table = ContactImportNumber
        found: dict[str, int] = {
            index: row
            for index, row in session.execute(
                select(table.phone_index, table.row).where(
                    table.import_id == self.import_id, table.phone_index.in_(list(firsts))
                )
            )
        }
        new = [{"import_id": self.import_id, "phone_index": i, "row": r} for i, r in firsts.items() if i not in found]
        if new:
            session.execute(insert(_table(table)), new)
        return found


def run(import_id: int, *, progress: Callable[[ContactImport], None] | None = None) -> str:
    """Run (or resume) an import to its end; returns the final status. The job's body.

    File and row problems end the import as ``failed`` with the reason in ``error``; anything
    else (the database going away) propagates so the queue retries, resuming after the cursor.
    """
    with db.session_scope() as session:
        job = session.get(ContactImport, import_id, with_for_update=True)
        if job is None or job.status in FINISHED:
            return job.status if job else "missing"
        if job.cancel_requested:
            _finish(session, job, "cancelled")
            return "cancelled"
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        runner = _Runner(job, attrs.schema(session), FileLimits.of(get_settings()), progress)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as binary:
        _copy_upload(import_id, binary)
        try:
            status, error = runner.run(binary), ""
        except ImportCancelled:
            status, error = "cancelled", ""
        except RelaisError as exc:
            status, error = "failed", exc.detail
    if status in FINISHED:
        with db.session_scope() as session:
            job = session.get_one(ContactImport, import_id)
            _finish(session, job, status, error)
        if progress:
            progress(job)
    return status


def _copy_upload(import_id: int, binary: IO[bytes]) -> None:
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


def _finish(session: Session, job: ContactImport, status: str, error: str = "") -> None:
    job.status, job.error, job.finished_at = status, error[:2000], utcnow()
    for model in (ContactImportChunk, ContactImportNumber):  # the upload itself is not kept
        session.execute(delete(model).where(model.import_id == job.id))
    audit.record(
        session,
        actor=SYSTEM,
        action=f"contacts.import.{status}",
        target_type="contact_import",
        target_id=job.id,
        diff={k: getattr(job, k) for k in ("rows_done", "created", "updated", "skipped", "rejected", "warning_count")},
    )


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined]


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
                    raise RelaisError(f"{job.rejected} rows are invalid; nothing was imported (strict import)")
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
        for counter in ("rows_done", "created", "updated", "skipped", "rejected", "warning_count", "without_consent"):
            setattr(job, counter, 0)
        self.phase, self.cursor = "importing", 0

    def _pass(self, binary: IO[bytes], *, write: bool) -> None:
        binary.seek(0)
        rows = read_rows(binary, self.shape, self.limits)
        parser = RowParser(first_row(rows), self.options, self.known, self.limits)
        batch: list[ParsedRow] = []
        found: list[RowProblem] = []
        read = last = 0
        for number, cells in numbered_rows(rows, self.limits):
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
                session.execute(insert(_table(ContactImportProblem)), [_problem_row(self.import_id, p) for p in found])
            job.cursor = self.cursor = last
            job.rows_done += read
            job.created += outcome.created
            job.updated += outcome.updated
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
