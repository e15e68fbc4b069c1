"""Order imports as background jobs (the console's): starting one, running it, reading its report.

They share the contact imports' machinery (``contacts.import_jobs``): a ``contact_imports`` row of kind
``orders`` holds the options, the upload in encrypted chunks (any worker reads it) and, once run, the
report (``summary``) and every rejected row with its cells (``contact_import_problems``, the rejected-rows
CSV). The import itself is ``contacts.order_import.import_orders``, as for the API and the CLI, in one
transaction per batch of orders (SQLite's write lock is held a moment at a time, and the page shows the rows
read so far): a retried job starts again from the top, and orders an earlier attempt recorded are only counted
(``orders_existing``), so running it twice, or importing the same file again, adds nothing twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import IO, Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from contacts import import_jobs
from contacts.file_limits import FileLimits
from contacts.import_report import RowProblem
from contacts.import_runner import SPOOL_MEMORY, copy_upload
from contacts.models import ContactImport, ContactImportProblem
from contacts.order_columns import header_with_orders, resolve
from contacts.order_import import OrderImportOptions, OrderImportReport, import_orders
from contacts.tabular import inspect, read_table
from core import audit, db
from core.audit import Actor
from core.db import utcnow
from core.errors import RelaisError
from core.queue import JobSpec, enqueue_after_commit
from core.settings import get_settings

KIND = "orders"
JOB_FUNC = "contacts.tasks.run_order_import"
_PROBLEM_BATCH = 500


def options_json(options: OrderImportOptions) -> dict[str, Any]:
    """``options`` as stored with the job (JSON); :func:`options_of` reads them back."""
    return {**asdict(options), "mapping": dict(options.mapping) if options.mapping is not None else None}


def options_of(data: Mapping[str, Any]) -> OrderImportOptions:
    return OrderImportOptions(**dict(data))


def start(
    session: Session,
    binary: IO[bytes],
    *,
    filename: str,
    options: OrderImportOptions,
    limits: FileLimits,
    actor: Actor,
    enqueue: bool = True,
) -> ContactImport:
    """Check the file's columns, store it and queue its import (after the caller commits); audited.

    A file whose columns cannot make orders is refused here (422), not later in the worker.
    ``options.dry_run`` is ignored: the preview (``contacts.order_preview``) is the dry run.

    Raises:
        PayloadTooLarge / ValidationFailed: as ``contacts.tabular`` and ``contacts.order_columns.resolve``.
    """
    shape = inspect(binary, filename, limits)
    table = read_table(binary, shape, limits, header_with_orders(options.mapping))
    resolve(table.header, options.mapping)
    binary.seek(0)
    import_jobs.purge_finished(session)
    job = ContactImport(kind=KIND, filename=filename[:255], format=shape.format, encoding=shape.encoding,
                        delimiter=shape.delimiter, rows_total=shape.rows_estimate, created_by_type=actor.type,
                        created_by_id=actor.id)  # fmt: skip
    import_jobs.store_upload(session, job, binary)
    return launch(session, job, options=options, header=table.header, actor=actor, enqueue=enqueue)


def launch(
    session: Session, job: ContactImport, *, options: OrderImportOptions, header: list[str], actor: Actor,
    enqueue: bool = True,
) -> ContactImport:
    """Make ``job`` (its upload stored, its columns checked: :func:`start`, or a previewed draft,
    ``contacts.import_drafts``) a pending order import with ``options`` and queue it; audited."""
    options = replace(options, dry_run=False, stop_after=None)
    job.status, job.phase = "pending", "importing"
    job.options, job.mapping, job.summary = options_json(options), {"header": header}, None
    audit.record(session, actor=actor, action="orders.import.start", target_type="order_import", target_id=job.id,
                 diff={"filename": job.filename[:200], "format": job.format, "size_bytes": job.size_bytes,
                       "day_first": options.day_first})  # fmt: skip
    if enqueue:
        enqueue_after_commit(session, JobSpec(JOB_FUNC, args=(job.id,), job_id=f"orders-import:{job.id}",
                                              queue="default", retry=import_jobs.JOB_RETRY,
                                              timeout=import_jobs.JOB_TIMEOUT))  # fmt: skip
    return job


def get(session: Session, import_id: int) -> ContactImport:
    """Raises ``NotFound`` when no order import has this id."""
    return import_jobs.get(session, import_id, kind=KIND)


def recent(session: Session, limit: int = 10) -> list[ContactImport]:
    return import_jobs.recent(session, limit, kind=KIND)


class StoredRejections:
    """:class:`contacts.order_import.RejectedRows` into the job's ``contact_import_problems`` (cells encrypted)."""

    def __init__(self, session: Session, job: ContactImport) -> None:
        self.session = session
        self.job = job
        self.rows: set[int] = set()
        self._pending: list[dict[str, Any]] = []

    def header(self, columns: list[str]) -> None:
        self.job.mapping = {**(self.job.mapping or {}), "header": columns}

    def add(self, problem: RowProblem) -> None:
        self.rows.add(problem.row)
        self._pending.append({
            "import_id": self.job.id, "row": problem.row, "severity": "error", "column": problem.column[:200],
            "code": problem.code, "message": problem.message[:500],
            "cells": list(problem.cells) if problem.cells is not None else None,
        })  # fmt: skip
        if len(self._pending) >= _PROBLEM_BATCH:
            self.close()

    def close(self) -> None:
        if self._pending:
            self.session.execute(insert(ContactImportProblem), self._pending)
            self._pending = []


def run(import_id: int) -> str:
    """Run an order import to its end (the job's body); returns its final status.

    A file problem (a date that reads both ways, no data rows) ends it ``failed`` with the reason (orders of
    batches committed before it stay); anything else propagates, so the queue retries from the top.
    """
    with db.session_scope() as session:
        job = session.get(ContactImport, import_id, with_for_update=True)
        if job is None or job.kind != KIND or job.status in import_jobs.FINISHED:
            return job.status if job else "missing"
        job.status, job.started_at = "running", job.started_at or utcnow()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as binary:
        copy_upload(import_id, binary)
        try:
            with db.session_scope() as session:
                _import(session, session.get_one(ContactImport, import_id), binary)
            return "succeeded"
        except RelaisError as exc:
            error = exc.detail
    with db.session_scope() as session:
        import_jobs.finish(session, session.get_one(ContactImport, import_id), "failed", error)
    return "failed"


def _import(session: Session, job: ContactImport, binary: IO[bytes]) -> None:
    # an earlier attempt's rejected rows: this one hands them back again
    session.execute(delete(ContactImportProblem).where(ContactImportProblem.import_id == job.id))
    rejected = StoredRejections(session, job)

    def checkpoint(report: OrderImportReport) -> None:
        job.rows_done = report.rows  # committed with the batch

    report = import_orders(session, binary, options_of(job.options), filename=job.filename,
                           limits=FileLimits.of(get_settings()), rejected=rejected, checkpoint=checkpoint,
                           commit=True, actor=Actor(type=job.created_by_type, id=job.created_by_id))  # fmt: skip
    rejected.close()
    job.summary = {key: value for key, value in report.as_dict().items() if key != "errors"}
    job.rows_done, job.created, job.skipped = report.rows, report.orders_created, report.orders_existing
    job.rejected = len(rejected.rows)
    import_jobs.finish(session, job, "succeeded")


def give_up(import_id: int, exc: BaseException) -> None:
    """Mark an order import failed after its job's last attempt ended on ``exc``."""
    with db.session_scope() as session:
        job = session.get(ContactImport, import_id)
        if job is not None and job.status not in import_jobs.FINISHED:
            reason = f"the import stopped on an unexpected error ({type(exc).__name__}) after its retries"
            import_jobs.finish(session, job, "failed", reason)
