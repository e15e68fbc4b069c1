"""A real HTTP endpoint that receives Relais's outbound webhooks, for the webhook tests (core and console)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A real HTTP endpoint on loopback that answers with the next queued status code."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.retry_after: list[str] = []  # a Retry-After header for each answer, while there are some
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                if receiver.retry_after:
                    self.send_header("Retry-After", receiver.retry_after.pop(0))
                self.end_headers()
                self.wfile.write(b"internal service answer: db password hunter2")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def serving() -> Iterator[Receiver]:
    """A receiver for one test (``yield from serving()`` in a fixture), shut down after it."""
    r = Receiver()
    yield r
    r.server.shutdown()
