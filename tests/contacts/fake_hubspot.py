"""A loopback fake of the HubSpot CRM v3 contacts API (list pages, PATCH), for the sync tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "pat-test-token"
PATH = "/crm/v3/objects/contacts"


@dataclass
class FakeHubSpot:
    contacts: dict[str, dict[str, str]]
    page_size: int = 2
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    #: the consent property's options, as an enumeration property in HubSpot refuses any other value (None: any)
    options: frozenset[str] | None = None
    #: answers given first, one per request, before any other: (status, headers), e.g. (429, {"Retry-After": "2"})
    refusals: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    #: once this many requests were answered, every other one gets HubSpot's 429 (its limit used up); None: none
    limit: int | None = None
    answered: int = 0

    def page(self, after: str | None) -> dict[str, Any]:
        ids = sorted(self.contacts, key=int)
        start = ids.index(after) if after else 0
        chunk = ids[start : start + self.page_size]
        body: dict[str, Any] = {
            "results": [
                {
                    "id": i,
                    "properties": self.contacts[i],
                    "createdAt": "2024-01-01T00:00:00Z",
                    "updatedAt": "2024-01-02T00:00:00Z",
                    "archived": False,
                }
                for i in chunk
            ]
        }
        if start + self.page_size < len(ids):
            following = ids[start + self.page_size]
            body["paging"] = {"next": {"after": following, "link": f"{self.url}{PATH}?after={following}"}}
        return body


def _handler(fake: FakeHubSpot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorised(self) -> bool:
            fake.requests.append(f"{self.command} {self.path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"status": "error", "message": "Authentication credentials not found."})
                return False
            if fake.refusals:
                status, headers = fake.refusals.pop(0)
                self._reply(status, {"status": "error", "message": f"refused with {status}"}, headers)
                return False
            if fake.limit is not None and fake.answered >= fake.limit:
                # HubSpot's answer when a private app's ten-second limit is used up
                message = "You have reached your ten_secondly_rolling limit."
                self._reply(429, {"status": "error", "message": message, "errorType": "RATE_LIMIT",
                                  "policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "1"})
                return False
            fake.answered += 1
            return True

        def do_GET(self) -> None:
            if not self._authorised():
                return
            url = urlparse(self.path)
            if url.path != PATH:
                self._reply(404, {"status": "error", "message": "not found"})
                return
            after = parse_qs(url.query).get("after", [None])[0]
            self._reply(200, fake.page(after))

        def do_PATCH(self) -> None:
            if not self._authorised():
                return
            contact_id = urlparse(self.path).path.rsplit("/", 1)[-1]
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if contact_id not in fake.contacts:
                self._reply(404, {"status": "error", "message": "contact not found"})
                return
            refused = [v for v in body["properties"].values() if fake.options is not None and v not in fake.options]
            if refused:
                message = f"Property values were not valid: {refused[0]!r} was not one of the allowed options"
                self._reply(400, {"status": "error", "message": message, "category": "VALIDATION_ERROR"})
                return
            fake.contacts[contact_id].update(body["properties"])
            fake.updates.append((contact_id, body["properties"]))
            self._reply(
                200,
                {
                    "id": contact_id,
                    "properties": fake.contacts[contact_id],
                    "createdAt": "2024-01-01T00:00:00Z",
                    "updatedAt": "2024-01-03T00:00:00Z",
                    "archived": False,
                },
            )

    return Handler


@contextmanager
def running(contacts: dict[str, dict[str, str]], *, options: frozenset[str] | None = None) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(contacts=contacts, options=options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
