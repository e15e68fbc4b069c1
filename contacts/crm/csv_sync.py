"""CSV sync: fetch a CSV (or XLSX) export from a URL and import it with the merge policy.

The download is streamed to a spooled temporary file (memory up to 8 MB, then disk) and imported
through :mod:`contacts.importer`, all or nothing. The URL is fetched through
:mod:`core.outbound_http`: public addresses only, each redirect hop checked. A 429, 408 or 5xx answer, or a
connection lost before the file is whole, is asked again as :data:`POLICY` says (``core.retry``: the host's
``Retry-After``, else backoff with jitter); another 4xx is not.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import replace
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session

from contacts.crm.hubspot import CrmUnavailable
from contacts.file_limits import FileLimits
from contacts.importer import ImportOptions, ImportReport, import_file
from core import outbound_http
from core.errors import PayloadTooLarge
from core.retry import CallFailed, Failure, RetryPolicy, header, retry_after

#: the download's retries: 4 attempts, waits up to 60 s each
POLICY = RetryPolicy(attempts=4, base=2.0, max_delay=60.0)
#: the whole download, retries included (50 MiB at 175 KB/s); the sync job itself may run 10 minutes
DEADLINE_SECONDS = 300.0


class _Answered(Exception):
    """The host answered a status other than 2xx."""

    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"answered HTTP {status}")
        self.failure = Failure(status, f"answered HTTP {status}", wait)


def _failure(exc: Exception) -> Failure | None:
    if isinstance(exc, _Answered):
        return exc.failure
    if isinstance(exc, httpx.HTTPError):  # refused, reset, timed out, cut off mid-file
        return Failure(None, f"unreachable: {exc}")
    return None  # a refused address (OutboundBlocked), a file too large: as they are


def _shown(url: str) -> str:
    """The URL without its query (a token may ride there) for an error message."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _download(client: httpx.Client, url: str, headers: Mapping[str, str], spool: IO[bytes], max_bytes: int) -> None:
    """One attempt: the whole file into ``spool`` (emptied first: an attempt cut off leaves nothing behind), counted
    as decoded (a ``Content-Encoding: gzip`` answer inflates as it streams), and refused past ``max_bytes``."""
    spool.seek(0)
    spool.truncate()
    with client.stream("GET", url, headers=dict(headers)) as response:
        if response.status_code // 100 != 2:
            raise _Answered(response.status_code, retry_after(header(response.headers, "Retry-After")))
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"the CSV sync file is larger than {max_bytes:,} bytes (RELAIS_IMPORT_MAX_BYTES)")
            spool.write(chunk)


def sync_from_url(
    session: Session,
    url: str,
    options: ImportOptions,
    *,
    headers: Mapping[str, str] | None = None,
    limits: FileLimits | None = None,
    timeout: float = 60.0,
    deadline: float = DEADLINE_SECONDS,
    policy: RetryPolicy | None = None,
) -> ImportReport:
    """Download ``url`` and import it (``on_existing`` forced to ``merge``).

    ``timeout`` bounds each wait, ``deadline`` the whole download, its retries included (a host trickling
    the file is cut off there, and the attempts left fail at once).

    Raises:
        CrmUnavailable: the download still failed after :data:`POLICY`'s retries, or answered a 4xx (the call,
            status and attempts in the detail).
        OutboundBlocked: the URL (or a redirect) points to a loopback, private... address.
        PayloadTooLarge: the file (decoded) is larger than ``limits.max_bytes``: the download stops there. It
            went on to 500 MB, ten times what the import then took, and a gzip answer inflated that far.
        ImportFailed / ValidationFailed: as :func:`contacts.importer.import_file`.
    """
    file_limits = limits or FileLimits()
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        try:
            with outbound_http.client(timeout=timeout, deadline=deadline) as client:
                (policy or POLICY).call(f"CSV sync source GET {_shown(url)}",
                                        lambda: _download(client, url, headers or {}, spool, file_limits.max_bytes),
                                        failure=_failure)  # fmt: skip
        except CallFailed as exc:
            raise CrmUnavailable(exc.detail) from None
        spool.seek(0)
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        merged = replace(options, on_existing="merge", source_name=options.source_name or url)
        return import_file(session, spool, merged, filename=name, limits=file_limits)
