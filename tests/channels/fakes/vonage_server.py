"""A fake Vonage HTTPS server on 127.0.0.1 for driving the real SDK.

It serves the SMS API (``POST /sms/json``, form, basic auth or api_key/api_secret in the body)
and the Messages API (``POST /v1/messages``, JSON, ``Bearer`` JWT signed RS256 by the
application's private key, checked with the public key). It records every request and answers
like Vonage, including scripted failures (:meth:`FakeVonage.fail_next`).
"""

from __future__ import annotations

import base64
import json
import math
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import jwt
import trustme

_GSM_EXTENSION = set("^{}\\[~]|€\x0c")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None
    request_line: str = ""
    raw_headers: list[tuple[str, str]] = field(default_factory=list)  # as sent: order and spelling kept
    client_port: int = 0  # tells the client's connections apart


@dataclass
class Scripted:
    """One canned answer: an HTTP status and body (SMS API errors are HTTP 200 with a status code),
    given after ``delay`` seconds, with ``headers`` (a 429's ``Retry-After``)."""

    http_status: int
    body: Any
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def _sms_parts(text: str, kind: str) -> int:
    """Vonage's own split count, computed independently of channels.encoding."""
    if kind == "unicode":
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    else:
        units = sum(2 if ch in _GSM_EXTENSION else 1 for ch in text)
        single, multi = 160, 153
    return 1 if units <= single else math.ceil(units / multi)


class FakeVonage:
    """Start with :meth:`start`; point the SDK at :attr:`host`; trust :attr:`ca_pem`."""

    def __init__(self, *, api_key: str, api_secret: str, application_id: str, public_key_pem: bytes) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.application_id = application_id
        self.public_key_pem = public_key_pem
        self.requests: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.idle_timeout: float | None = None  # seconds a kept-alive connection may idle before the server closes it
        self._hold_after: int | None = None
        self._released = threading.Event()

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, http_status: int, body: Any, *, delay: float = 0.0,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next send with ``body``, ``http_status`` and ``headers`` instead of a success."""
        with self._lock:
            self._script.append(Scripted(http_status, body, delay, dict(headers or {})))

    def hold_after(self, count: int) -> None:
        """Accept ``count`` more sends as usual, then record each later one and hold its answer until
        :meth:`release`: a client killed meanwhile is certainly mid-batch, whatever its timing."""
        with self._lock:
            self._hold_after = len(self.requests) + count
            self._released.clear()

    def release(self) -> None:
        """Answer the held sends and stop holding."""
        with self._lock:
            self._hold_after = None
        self._released.set()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms stall

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:  # an idle read past the timeout closes the connection (handle_one_request)
                super().setup()
                self.connection.settimeout(fake.idle_timeout)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the client died mid-request: a real provider accepts nothing from it
                status, answer, extra = fake.handle(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    wire=(self.requestline, list(self.headers.items()), self.client_address[1]),
                )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client was killed while we answered (the SIGKILL test)
                    self.close_connection = True

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(
        self, path: str, headers: dict[str, str], body: bytes, *, wire: tuple[str, list[tuple[str, str]], int]
    ) -> tuple[int, Any, dict[str, str]]:
        record = Recorded(path=path, headers=headers, body=body, request_line=wire[0], raw_headers=wire[1],
                          client_port=wire[2])  # fmt: skip
        if path == "/sms/json":
            record.form = dict(parse_qsl(body.decode()))
        else:
            record.json = json.loads(body or b"null")
        with self._lock:
            self.requests.append(record)
            scripted = self._script.popleft() if self._script else None
            held = self._hold_after is not None and len(self.requests) > self._hold_after
        if held:
            self._released.wait(timeout=60)
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
        extra = scripted.headers if scripted is not None else {}
        if path == "/sms/json":
            return (*self._sms(record, scripted), extra)
        if path == "/v1/messages":
            return (*self._messages(record, scripted), extra)
        return 404, {"type": "about:blank", "title": "Not found"}, {}

    def _sms_authorised(self, record: Recorded) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        if record.headers.get("authorization") == expected:
            return True
        return record.form.get("api_key") == self.api_key and record.form.get("api_secret") == self.api_secret

    def _sms(self, record: Recorded, scripted: Scripted | None) -> tuple[int, Any]:
        if scripted is not None:
            return scripted.http_status, scripted.body
        if not self._sms_authorised(record):
            return 200, {"message-count": "1", "messages": [{"status": "4", "error-text": "Bad Credentials"}]}
        form = record.form
        count = _sms_parts(form.get("text", ""), form.get("type", "text"))
        messages = [
            {
                "to": form["to"],
                "message-id": uuid.uuid4().hex[:16],
                "status": "0",
                "remaining-balance": "10.00000000",
                "message-price": "0.03330000",
                "network": "20810",
                **({"client-ref": form["client-ref"]} if "client-ref" in form else {}),
            }
            for _ in range(count)
        ]
        return 200, {"message-count": str(count), "messages": messages}

    def _messages(self, record: Recorded, scripted: Scripted | None) -> tuple[int, Any]:
        authorization = record.headers.get("authorization", "")
        try:
            claims = jwt.decode(authorization.removeprefix("Bearer "), self.public_key_pem, algorithms=["RS256"])
        except jwt.PyJWTError:
            return 401, {"type": "https://developer.vonage.com/api-errors#unauthorized", "title": "Unauthorized"}
        if claims.get("application_id") != self.application_id:
            return 401, {"type": "https://developer.vonage.com/api-errors#unauthorized", "title": "Unauthorized"}
        if scripted is not None:
            return scripted.http_status, scripted.body
        return 202, {"message_uuid": str(uuid.uuid4())}
