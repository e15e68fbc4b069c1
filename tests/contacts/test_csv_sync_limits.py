"""The CSV sync's download obeys the import's size limit (``RELAIS_IMPORT_MAX_BYTES``), counted as it inflates: a
``Content-Encoding: gzip`` answer of 30 KB that inflates to 30 MB is refused at the limit, not downloaded whole
(docs/security.md, "Files the server parses")."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.errors import PayloadTooLarge
from core.settings import Settings, get_settings

INFLATED = 30 * 1024 * 1024
BOMB = gzip.compress(b"phone,name\n" + b"x" * INFLATED, compresslevel=9)


@contextmanager
def _serving_gzip(body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/export/contacts.csv"
    finally:
        server.shutdown()
        server.server_close()


def test_a_gzip_answer_is_refused_at_the_import_limit(
    outbound_to_loopback: None, runtime: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was downloaded up to 500 MB (ten times the import's 50 MiB), then imported with the default limits
    whatever RELAIS_IMPORT_MAX_BYTES said. The periodic sync and the admin's route read the setting."""
    from contacts import tasks

    assert len(BOMB) < 100 * 1024
    with _serving_gzip(BOMB) as url:
        monkeypatch.setenv("RELAIS_CONTACT_SYNC_CSV_URL", url)
        monkeypatch.setenv("RELAIS_IMPORT_MAX_BYTES", str(1024 * 1024))
        get_settings.cache_clear()
        with pytest.raises(PayloadTooLarge, match="larger than 1,048,576 bytes"):
            tasks.sync_crm()
