"""A fake OpenAI-compatible chat server on 127.0.0.1 for tests (the real ``openai`` client talks to it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeLlm:
    """``answer`` is returned as the assistant's text; ``status`` != 200 answers an error; ``delay`` sleeps."""

    answer: str = ""
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    #: answers given first, one per request, before ``status``: (status, headers), e.g. (429, {"Retry-After": "1"})
    refusals: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def prompt_text(self) -> str:
        """The last request's messages as one JSON string (to search the prompt)."""
        return json.dumps(self.requests[-1]["body"]["messages"], ensure_ascii=False)


def _handler(fake: FakeLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if fake.delay:
                time.sleep(fake.delay)
            status, headers = fake.refusals.pop(0) if fake.refusals else (fake.status, {})
            if status != 200:
                payload: dict[str, Any] = {"error": {"message": "boom", "type": "server_error"}}
            else:
                payload = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": fake.answer}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    return Handler


@contextmanager
def fake_llm_server() -> Iterator[FakeLlm]:
    fake = FakeLlm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
