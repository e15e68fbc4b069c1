"""CSV sync: fetch a CSV (or XLSX) export from a URL and import it with the merge policy.

The download is streamed to a spooled temporary file (memory up to 8 MB, then disk) and imported
through :mod:`contacts.importer`, all or nothing. The URL is fetched through
:mod:`core.outbound_http`: public addresses only, each redirect hop checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import replace

import httpx
from sqlalchemy.orm import Session

from contacts.crm.hubspot import CrmUnavailable
from contacts.importer import ImportOptions, ImportReport, import_file
from core import outbound_http
from core.errors import PayloadTooLarge

MAX_BYTES = 500 * 1024 * 1024


def sync_from_url(
    session: Session,
    url: str,
    options: ImportOptions,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ImportReport:
    """Download ``url`` and import it (``on_existing`` forced to ``merge``).

    Raises:
        CrmUnavailable: the download failed or answered a non-2xx status.
        OutboundBlocked: the URL (or a redirect) points to a loopback, private... address.
        PayloadTooLarge: the file exceeds 500 MB.
        ImportFailed / ValidationFailed: as :func:`contacts.importer.import_file`.
    """
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        try:
            with (
                outbound_http.client(timeout=timeout) as client,
                client.stream("GET", url, headers=dict(headers or {})) as response,
            ):
                if response.status_code // 100 != 2:
                    raise CrmUnavailable(f"CSV sync source answered HTTP {response.status_code}")
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise PayloadTooLarge("the CSV sync file exceeds 500 MB")
                    spool.write(chunk)
        except httpx.HTTPError as exc:
            raise CrmUnavailable(f"CSV sync source unreachable: {exc}") from None
        spool.seek(0)
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        merged = replace(options, on_existing="merge", source_name=options.source_name or url)
        return import_file(session, spool, merged, filename=name)
