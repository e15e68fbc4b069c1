"""Contact imports as background jobs: starting one, reading its progress and rejected rows, cancelling.

The upload is kept in the database, not on a disk: every API host and worker reads the same
``contact_import_chunks`` (1 MiB pieces, AES-GCM encrypted like other personal data), and the
bytes go when the import ends. ``contacts.import_runner`` is the job that imports them in short
batches. Finished imports, with their rejected rows, are deleted after :data:`RETENTION`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from contacts import attributes as attrs
from contacts import consent
from contacts.file_limits import FileLimits
from contacts.import_mapping import header_with_phone
from contacts.import_report import ImportOptions
from contacts.importer import RowParser
from contacts.models import ContactImport, ContactImportChunk, ContactImportNumber, ContactImportProblem
from contacts.service import get_list
from contacts.tabular import Table, inspect, read_table
from core import audit, crypto
from core.audit import SYSTEM, Actor
from core.db import utcnow
from core.errors import Conflict, NotFound
from core.queue import JobSpec, RetryPolicy, enqueue_after_commit
from core.spreadsheet import neutralise

CHUNK_BYTES = 1 << 20
RETENTION = timedelta(days=7)
FINISHED = ("succeeded", "failed", "cancelled")
#: an upload the console is still previewing (``contacts.import_drafts``): not an import until it is started
DRAFT = "draft"
DRAFT_RETENTION = timedelta(days=1)
JOB_RETRY = RetryPolicy(max=3, intervals=(10, 60, 300))  # a retry resumes after the cursor
JOB_TIMEOUT = 4 * 3600


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
    to run inline with ``contacts.import_runner.run`` (the CLI).

    Raises:
        PayloadTooLarge / ValidationFailed: as :func:`contacts.tabular.inspect` and
            :class:`contacts.importer.RowParser`; NotFound: a list in ``options.list_ids``.
    """
    for list_id in options.list_ids:
        get_list(session, list_id)
    shape = inspect(binary, filename, limits)
    table = read_table(binary, shape, limits, header_with_phone(options.mapping))
    parser = RowParser(table.header, options, attrs.schema(session), limits, hidden=table.hidden)
    binary.seek(0)
    purge_finished(session)
    job = ContactImport(filename=filename[:255], created_by_type=actor.type, created_by_id=actor.id)
    job.format, job.encoding, job.delimiter, job.rows_total = (shape.format, shape.encoding, shape.delimiter,
                                                               shape.rows_estimate)  # fmt: skip
    store_upload(session, job, binary)
    mapping = {"header": parser.header, "columns": [c.as_dict() for c in parser.columns], "sheet": table.sheet,
               "sheets": list(table.sheets), "header_row": table.header_row}  # fmt: skip
    return launch(session, job, options=options, mapping=mapping, actor=actor, enqueue=enqueue)


def launch(
    session: Session, job: ContactImport, *, options: ImportOptions, mapping: dict[str, Any], actor: Actor,
    enqueue: bool = True,
) -> ContactImport:
    """Make ``job`` (its upload stored, its file checked: :func:`start`, or a previewed draft,
    ``contacts.import_drafts``) a pending import with ``options`` and queue it (after the caller commits); audited."""
    job.status, job.phase = "pending", "validating" if options.strict or options.dry_run else "importing"
    job.options, job.mapping, job.summary = options.to_json(), mapping, None
    audit.record(
        session,
        actor=actor,
        action="contacts.import.start",
        target_type="contact_import",
        target_id=job.id,
        diff={
            "format": job.format,
            "size_bytes": job.size_bytes,
            "strict": options.strict,
            "dry_run": options.dry_run,
        },
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


def store_upload(session: Session, job: ContactImport, binary: IO[bytes]) -> None:
    """Add ``job`` and keep ``binary`` (read to its end) in its encrypted chunks, for whichever worker runs it."""
    session.add(job)
    session.flush()
    size = seq = 0
    for chunk in iter(lambda: binary.read(CHUNK_BYTES), b""):
        # Core inserts: the session's identity map would otherwise keep every chunk in memory
        session.execute(
            insert(ContactImportChunk), {"import_id": job.id, "seq": seq, "data": crypto.encrypt_bytes(chunk)}
        )
        seq += 1
        size += len(chunk)
    job.size_bytes, job.chunk_count = size, seq


def get(session: Session, import_id: int, *, kind: str = "contacts", draft: bool = False) -> ContactImport:
    """An import of ``kind`` (``contacts``, or ``orders``: ``contacts.order_jobs``); with ``draft``, an upload
    still being previewed instead (``contacts.import_drafts``).

    Raises:
        NotFound: no import (or draft) of that kind has this id.
    """
    found = session.get(ContactImport, import_id)
    if found is None or found.kind != kind or (found.status == DRAFT) != draft:
        raise NotFound(f"import {import_id} not found")
    return found


def recent(session: Session, limit: int = 50, *, kind: str = "contacts") -> list[ContactImport]:
    """The latest imports of ``kind``, newest first."""
    query = (
        select(ContactImport)
        .where(ContactImport.kind == kind, ContactImport.status != DRAFT)
        .order_by(ContactImport.id.desc())
    )
    return list(session.scalars(query.limit(limit)))


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
        finish(session, job, "cancelled")
    audit.record(session, actor=actor, action="contacts.import.cancel", target_type="contact_import", target_id=job.id)
    return job


def percent(job: ContactImport) -> float:
    """Progress of the current phase, 0-100 (100 only once the import succeeded)."""
    if job.status == "succeeded":
        return 100.0
    if not job.rows_total:
        return 0.0
    return round(min(99.9, 100 * job.rows_done / job.rows_total), 1)


def notices(job: ContactImport, *, file: bool = True) -> list[str]:
    """Sentences about the whole import for the person who ran it: which sheet and rows were read
    (:func:`file_notes`; left out when not ``file``), then the consent policy's warning."""
    warning = consent.marketing_consent_warning(job.without_consent)
    return [*(file_notes(job) if file else []), *([warning] if warning else [])]


def file_notes(job: ContactImport) -> list[str]:
    """Which part of the file was read, when not all of it: the sheet of a workbook that has others, the
    header's row when a title stands above it (``contacts.tabular.Table.notes``)."""
    mapping = job.mapping or {}
    return Table(
        [],
        int(mapping.get("header_row") or 1),
        iter(()),
        str(mapping.get("sheet") or ""),
        tuple(mapping.get("sheets") or ()),
    ).notes()


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
        writer.writerow([neutralise(cell, keep_signed_numbers=True) for cell in line])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _rejected_line(found: list[ContactImportProblem]) -> list[str]:
    reason = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in found)
    cells = next((p.cells for p in found if p.cells is not None), [])
    return [str(found[0].row), reason, *cells]


def purge_finished(session: Session, *, now: datetime | None = None) -> int:
    """Delete imports that finished more than :data:`RETENTION` ago, with their rejected rows, and drafts
    never started within :data:`DRAFT_RETENTION` (their uploads)."""
    now = now or utcnow()
    stale = or_(ContactImport.finished_at < now - RETENTION,
                and_(ContactImport.status == DRAFT, ContactImport.created_at < now - DRAFT_RETENTION))  # fmt: skip
    # the problems, chunks and numbers go with them (ON DELETE CASCADE)
    result = session.execute(delete(ContactImport).where(stale))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def finish(session: Session, job: ContactImport, status: str, error: str = "") -> None:
    """End an import: its status, the reason it failed, no more upload or seen numbers; audited (system)."""
    job.status, job.error, job.finished_at = status, error[:2000], utcnow()
    for model in (ContactImportChunk, ContactImportNumber):  # the upload itself is not kept
        session.execute(delete(model).where(model.import_id == job.id))
    audit.record(
        session,
        actor=SYSTEM,
        action=f"{job.kind}.import.{status}",  # contacts.import.succeeded, orders.import.failed...
        target_type="contact_import",
        target_id=job.id,
        diff={
            k: getattr(job, k)
            for k in ("rows_done", "created", "updated", "unchanged", "skipped", "rejected", "warning_count")
        },
    )
