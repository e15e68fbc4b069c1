"""A real HTTP server on loopback that sends its answer one byte at a time, for the outbound deadline tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def trickling(answer: bytes, *, every: float = 0.2, head: int = 0) -> Iterator[str]:
    """Serve ``answer`` (raw HTTP) to each connection: its first ``head`` bytes at once, then one byte every
    ``every`` seconds, never silent long enough for a per-read timeout. Yields the server's URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(answer[:head])
                for byte in answer[head:]:
                    if done.wait(every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client gave up: what the tests expect
                return

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        done.set()
        listener.close()
