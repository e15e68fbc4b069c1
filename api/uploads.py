"""A file uploaded for import (contacts or orders): the raw body or a multipart ``file`` part.

Shared by every import route so they take the same shapes: ``text/csv``, XLSX, or multipart with a
``file`` part and an optional ``mapping`` field. The body's size is capped while it streams in by
``api.body_limit`` (``RELAIS_UPLOAD_MAX_BYTES``); the file's own limits are checked later by
``contacts.tabular.inspect``.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

from fastapi import Request

from core.errors import ValidationFailed

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_TYPES = ("text/csv", "application/csv", "text/plain")
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """``binary`` is the caller's to close; ``mapping`` is the multipart ``mapping`` field (JSON text) if sent."""

    binary: IO[bytes]
    filename: str
    mapping: str | None


async def read_upload(request: Request) -> Upload:
    """The uploaded file (spooled to disk past 8 MiB), its name, and a mapping sent as a form field.

    Raises:
        ValidationFailed: a multipart body without a ``file`` part, or a content type that is
            neither CSV, XLSX nor multipart.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("multipart import needs a 'file' part", errors=[{"field": "file"}])
        mapping = form.get("mapping")
        return Upload(upload.file, upload.filename or "", mapping if isinstance(mapping, str) else None)
    if content_type not in (*TEXT_TYPES, XLSX_TYPE):
        raise ValidationFailed(
            f"send the file as text/csv, {XLSX_TYPE} or multipart/form-data (got {content_type or 'nothing'})",
            errors=[{"field": "content-type"}],
        )
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - closed by the caller
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return Upload(spool, "upload.xlsx" if content_type == XLSX_TYPE else "upload.csv", None)


async def uploaded(request: Request) -> AsyncIterator[Upload]:
    """:func:`read_upload` as the dependency of a plain ``def`` route, whose checks and database work then run in the
    threadpool, not on the event loop (``api.deps.raw_body``); the file is closed when the route is done."""
    upload = await read_upload(request)
    try:
        yield upload
    finally:
        upload.binary.close()
