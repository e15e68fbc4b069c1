"""An uploaded file waiting for its preview: the console's import pages (contacts and orders) read it in a job.

Previewing a 50 MiB workbook takes minutes (its XML is scanned for the limits, openpyxl loads its shared
strings, an order file's dates are all read): inside the upload request the browser, or a proxy's timeout, gave
up. The page now only stores the file (an import row of status ``draft``; the upload in encrypted chunks, as an
import's: ``contacts.import_jobs.store_upload``, so any host reads it) and a worker previews it (job
``contacts.tasks.preview_import``, with the preview functions the page ran before: ``contacts.import_preview``,
``contacts.order_preview``). The preview is stored on the row (``summary``, with the options it was made with),
so every host shows it; the page polls until it is there. A change of a column's field stores the new options and
queues another preview of the stored file, with no new upload; a preview finished for options changed since is
dropped, so the page never shows one that is not what would run. "Import" turns the draft into the import (the
same row and upload: ``launch``). Drafts never started are deleted after a day (``import_jobs.purge_finished``).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session

from contacts import file_head, import_jobs, order_jobs
from contacts.file_head import FileHead, NotInHead
from contacts.file_limits import FileLimits
from contacts.import_mapping import header_with_phone
from contacts.import_preview import preview_head as contact_preview_head
from contacts.import_preview import preview_table as contact_preview_table
from contacts.import_report import ImportOptions
from contacts.import_runner import SPOOL_MEMORY, copy_upload
from contacts.models import ContactImport
from contacts.order_preview import preview as order_preview
from contacts.tabular import read_table
from core import crypto, db
from core.audit import Actor
from core.db import utcnow
from core.errors import Conflict, PayloadTooLarge, ValidationFailed
from core.queue import JobSpec, RetryPolicy, enqueue_after_commit
from core.settings import get_settings

JOB_FUNC = "contacts.tasks.preview_import"
JOB_RETRY = RetryPolicy(max=2, intervals=(5, 30))  # the preview starts over: it writes nothing but its result
JOB_TIMEOUT = 3600
KINDS = ("contacts", order_jobs.KIND)


def save(
    session: Session, binary: IO[bytes], *, kind: str, filename: str, options: dict[str, Any], actor: Actor
) -> ContactImport:
    """Store the uploaded file as a draft of ``kind`` and queue its preview with ``options`` (their JSON form:
    ``ImportOptions.to_json``, ``order_jobs.options_json``) after the caller commits. Nothing of the file is read
    here but its bytes."""
    import_jobs.purge_finished(session)
    draft = ContactImport(kind=kind, status=import_jobs.DRAFT, phase="previewing", format="", filename=filename[:255],
                          created_by_type=actor.type, created_by_id=actor.id)  # fmt: skip
    import_jobs.store_upload(session, draft, binary)
    choose(session, draft, options)
    return draft


def get(session: Session, draft_id: int, *, kind: str) -> ContactImport:
    """Raises ``NotFound`` when no draft of ``kind`` has this id (an import started from it is no draft)."""
    return import_jobs.get(session, draft_id, kind=kind, draft=True)


def choose(session: Session, draft: ContactImport, options: dict[str, Any]) -> None:
    """Preview ``draft`` again with ``options`` (a column's field changed) in a job, unless its preview already is
    of them."""
    if draft.options == options and draft.summary and draft.summary.get("options") == options:
        return
    summary = draft.summary or {}
    draft.options = options
    # the last preview stays on the page (its columns' fields can still be changed) until the new one is made
    # the file's first rows stay too: the next preview reads them, not the file (``contacts.file_head``)
    draft.summary = {"asked_at": utcnow().isoformat(), "last": summary.get("preview") or summary.get("last"),
                     "head": summary.get("head")}  # fmt: skip
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    enqueue_after_commit(session, JobSpec(JOB_FUNC, args=(draft.id,), job_id=f"import-preview:{draft.id}:{digest}",
                                          queue="default", retry=JOB_RETRY, timeout=JOB_TIMEOUT))  # fmt: skip


def shown(draft: ContactImport) -> dict[str, Any]:
    """What the page shows of ``draft``: ``preview`` (the last one of its current options, else None while a job
    makes it), ``last`` (the latest preview made, whatever its options), ``error`` (why the file cannot be read
    with them), ``seconds`` since it was asked."""
    summary = draft.summary or {}
    current = summary.get("options") == draft.options
    asked = datetime.fromisoformat(summary["asked_at"]) if summary.get("asked_at") else utcnow()
    preview = _opened(summary.get("preview")) if current else None
    return {"preview": preview, "last": preview or _opened(summary.get("preview") or summary.get("last")),
            "error": summary.get("error") if current else "",
            "seconds": max(0, int((utcnow() - asked).total_seconds()))}  # fmt: skip


def _sealed(preview: dict[str, Any]) -> str:
    """The preview's rows hold the file's cells (names, numbers): encrypted at rest like the upload itself."""
    return crypto.encrypt(json.dumps(preview))


def _opened(sealed: str | None) -> dict[str, Any] | None:
    return json.loads(crypto.decrypt(sealed)) if sealed else None


def run(draft_id: int) -> str:
    """Preview a draft with its current options and store the result (the job's body); idempotent, it writes only
    that result, and only while the draft still has those options.

    A contacts draft previewed before is previewed from the head of the file that preview kept
    (``contacts.file_head``): a change of a column's field does not read a large workbook again. A file that cannot
    be read (size, type, encoding, mapping) is stored as the error to show; anything else propagates for the queue to
    retry.
    """
    with db.session_scope() as session:
        draft = session.get(ContactImport, draft_id)
        if draft is None or draft.status != import_jobs.DRAFT:
            return "gone"
        options, kind, filename = dict(draft.options), draft.kind, draft.filename
        sealed_head = (draft.summary or {}).get("head")
    result: dict[str, Any] = {"options": options}
    found: dict[str, Any] = {}
    try:
        with db.session_scope() as session:  # reads only: the preview's checks write nothing
            if kind == "contacts" and sealed_head:
                found = _from_head(session, FileHead.from_json(json.loads(crypto.decrypt(sealed_head))), options)
            if not found:
                found, head = _from_file(session, draft_id, kind, filename=filename, options=options)
                if head is not None and head.size() <= file_head.MAX_KEPT_CHARS:
                    result["head"] = crypto.encrypt(json.dumps(head.to_json()))
    except (ValidationFailed, PayloadTooLarge) as exc:
        result["error"] = exc.detail
    with db.session_scope() as session:
        draft = session.get(ContactImport, draft_id, with_for_update=True)
        if draft is None or draft.status != import_jobs.DRAFT or draft.options != options:
            return "outdated"  # the person chose other fields meanwhile: their own job previews them
        if found.get("columns"):  # each column's field as shown: what the page posts back, and what will run
            options = {**options, "mapping": {c["column"]: c["target"] for c in found["columns"]}}
            draft.options = result["options"] = options
        if found:
            result["preview"] = _sealed(found)
        draft.summary = {**(draft.summary or {}), **result}
        draft.format, draft.rows_total = str(found.get("format") or "")[:4], found.get("rows_estimate")
        draft.encoding, draft.delimiter = str(found.get("encoding") or "")[:20], str(found.get("delimiter") or "")[:2]
    return "error" if "error" in result else "previewed"


def _from_head(session: Session, head: FileHead, options: dict[str, Any]) -> dict[str, Any]:
    """The contacts preview from the kept head; ``{}`` when these options need more of the file."""
    limits = FileLimits.of(get_settings())
    try:
        return contact_preview_head(session, head, options=ImportOptions.from_json(options), limits=limits)
    except NotInHead:
        return {}


def _from_file(
    session: Session, draft_id: int, kind: str, *, filename: str, options: dict[str, Any]
) -> tuple[dict[str, Any], FileHead | None]:
    """The preview read from the stored upload, and (contacts) the head it read, to keep."""
    limits = FileLimits.of(get_settings())
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as binary:
        copy_upload(draft_id, binary)
        if kind == order_jobs.KIND:
            found = order_preview(session, binary, filename=filename, options=order_jobs.options_of(options),
                                  limits=limits)  # fmt: skip
            return found.as_json(), None
        chosen = ImportOptions.from_json(options)
        is_header = header_with_phone(chosen.mapping)
        head = file_head.read(binary, filename, limits, is_header)
        try:
            return contact_preview_head(session, head, options=chosen, limits=limits), head
        except NotInHead:  # blank rows between the data: the file is read (and next time again)
            table = read_table(binary, head.shape, limits, is_header)
            return contact_preview_table(session, head.shape, table, options=chosen, limits=limits), None


def launch(session: Session, draft: ContactImport, *, options: dict[str, Any], actor: Actor) -> ContactImport:
    """Start importing ``draft``, as previewed with ``options`` (queued after the caller commits; audited).

    Raises:
        Conflict: the preview of ``options`` is not there yet, or says the file cannot be imported as chosen (the
            page shows "Import" only once it can: a second tab's change came in between).
    """
    found = shown(draft)["preview"] if draft.options == options else None
    if not found or not found.get("ready"):
        raise Conflict("the file's preview with these columns is not ready: check it, then import")
    draft.started_at = None
    if draft.kind == order_jobs.KIND:
        return order_jobs.launch(session, draft, options=order_jobs.options_of(options),
                                 header=[c["column"] for c in found["columns"]], actor=actor)  # fmt: skip
    mapping = {key: found[key] for key in ("header", "columns", "sheet", "sheets", "header_row")}
    return import_jobs.launch(session, draft, options=ImportOptions.from_json(options), mapping=mapping, actor=actor)
