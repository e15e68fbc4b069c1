"""A loopback fake of the HubSpot CRM v3 contacts API, for the sync tests: list pages, PATCH, batch update (at most
100 inputs; a contact it does not have is a 207 multi-status error naming its id, or with ``missing_answer="error"``
the whole call answers 404 naming the ids and writes nothing) and search (``lastmodifieddate`` GTE, sorted, paged with
``after``, refused beyond ``search_cap`` results as HubSpot refuses beyond 10,000)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "pat-test-token"
PATH = "/crm/v3/objects/contacts"
#: when the contacts a test starts with were last modified (epoch ms): long before any sync
OLD_MS = 1_704_153_600_000


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
    #: each contact's lastmodifieddate (epoch ms); absent: :data:`OLD_MS`. A write sets it to now, as HubSpot does.
    modified: dict[str, int] = field(default_factory=dict)
    #: results one search query may page through (HubSpot: 10,000)
    search_cap: int = 10_000
    #: how a batch update answers for an id it does not have: "207" (multi-status) or "error" (404, nothing written)
    missing_answer: str = "207"
    #: the ids of each batch update received
    batches: list[list[str]] = field(default_factory=list)
    #: called once each, one after each search answered: an edit made in HubSpot while a pull pages through
    after_search: list[Callable[[], None]] = field(default_factory=list)

    def edit(self, contact_id: str, **properties: str) -> None:
        """A change made in HubSpot: the properties, and the contact's lastmodifieddate now."""
        self.contacts.setdefault(contact_id, {}).update(properties)
        self.modified[contact_id] = int(time.time() * 1000)

    def _object(self, contact_id: str) -> dict[str, Any]:
        when = self.modified.get(contact_id, OLD_MS)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when // 1000)) + f".{when % 1000:03d}Z"
        return {"id": contact_id, "properties": {**self.contacts[contact_id], "lastmodifieddate": stamp},
                "createdAt": "2024-01-01T00:00:00Z", "updatedAt": stamp, "archived": False}

    def search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /search``: contacts whose lastmodifieddate is at or after the filter's value, oldest first."""
        after, limit = int(body.get("after") or 0), int(body.get("limit") or 10)
        if after >= self.search_cap:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": f"paging beyond {self.search_cap} results is not allowed"}
        bound = 0
        for group in body.get("filterGroups") or []:
            for rule in group["filters"]:
                assert (rule["propertyName"], rule["operator"]) == ("lastmodifieddate", "GTE"), rule
                bound = int(rule["value"])
        assert body.get("sorts") == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], body
        found = sorted((i for i in self.contacts if self.modified.get(i, OLD_MS) >= bound),
                       key=lambda i: (self.modified.get(i, OLD_MS), int(i)))
        answer: dict[str, Any] = {"total": len(found), "results": [self._object(i) for i in found[after:after + limit]]}
        if after + limit < len(found):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        if self.after_search:
            self.after_search.pop(0)()
        return 200, answer

    def batch_update(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /batch/update``: each input's properties written, as HubSpot answers for the ones it lacks."""
        inputs = body["inputs"]
        self.batches.append([str(i["id"]) for i in inputs])
        if len(inputs) > 100:
            return 400, {"status": "error", "category": "VALIDATION_ERROR", "message": "at most 100 inputs"}
        refused = [v for i in inputs for v in i["properties"].values()
                   if self.options is not None and v not in self.options]
        if refused:
            message = f"Property values were not valid: {refused[0]!r} was not one of the allowed options"
            return 400, {"status": "error", "category": "VALIDATION_ERROR", "message": message}
        missing = [str(i["id"]) for i in inputs if str(i["id"]) not in self.contacts]
        not_found = {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing},
                     "message": "Could not get some CONTACT objects, they may be deleted or not exist."}
        if missing and self.missing_answer == "error":
            return 404, not_found
        for i in inputs:
            if str(i["id"]) in self.contacts:
                self.contacts[str(i["id"])].update(i["properties"])
                self.updates.append((str(i["id"]), i["properties"]))
                self.modified[str(i["id"])] = int(time.time() * 1000)
        answer: dict[str, Any] = {
            "status": "COMPLETE", "startedAt": "2024-01-03T00:00:00Z", "completedAt": "2024-01-03T00:00:01Z",
            "results": [self._object(str(i["id"])) for i in inputs if str(i["id"]) in self.contacts]}
        if missing:
            answer.update(numErrors=1, errors=[not_found])
            return 207, answer
        return 200, answer

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

        def do_POST(self) -> None:
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            path = urlparse(self.path).path
            if path == f"{PATH}/search":
                self._reply(*fake.search(body))
            elif path == f"{PATH}/batch/update":
                self._reply(*fake.batch_update(body))
            else:
                self._reply(404, {"status": "error", "message": "not found"})

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
            fake.modified[contact_id] = int(time.time() * 1000)
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
