"""Request body limits, enforced while the body arrives, before routing, parsing or signature checks.

Handlers, signature checks and FastAPI's body parsing all read the whole body first: an anonymous
1 GB POST to a public webhook grew the process by 2 GB before its 401. This plain ASGI middleware
answers 413 at once when ``Content-Length`` is above the route's limit, and otherwise counts the
bytes as the app receives them: the chunk that passes the limit is never handed over, the 413 goes
out and the app sees a disconnect. The rest of the body is not read: uvicorn stops reading the
socket once its small buffer is full and closes the connection after the response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM, problem_body
from core.settings import Settings

# Public, signed or anonymous endpoints: their bodies are small by nature (an SMS, an order).
WEBHOOK_PREFIXES = ("/webhooks/vonage/", "/webhooks/shopify/", "/api/v1/simulator/")
WEBHOOK_PATHS = frozenset({"/api/v1/contacts/sync/webhook"})
# Files: contact and order imports (CSV/XLSX; REST and the console's wizards), knowledge documents, intent
# specifications (YAML). An import route missing here got the 1 MiB default: a 2 MB order file or a contact file
# chosen in the console's wizard was a 413 while the same file went through POST /api/v1/contacts/import.
UPLOAD_PATHS = frozenset(
    {
        "/api/v1/contacts/import",
        "/api/v1/contacts/imports/preview",
        "/api/v1/orders/import",
        "/console/imports/upload",  # the console's wizards send the file once; their other steps name the stored one
        "/console/order-imports/upload",
        "/api/v1/knowledge/documents",
        "/api/v1/intents",
    }
)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The most bytes a request body may carry: ``webhook`` and ``upload`` routes, ``default`` elsewhere."""

    default: int
    webhook: int
    upload: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            default=settings.body_max_bytes,
            webhook=settings.webhook_body_max_bytes,
            upload=settings.upload_max_bytes,
        )

    def for_path(self, path: str) -> int:
        """The limit for a request to ``path`` (matched before routing, trailing slash ignored)."""
        path = path.rstrip("/") or "/"
        if path in WEBHOOK_PATHS or path.startswith(WEBHOOK_PREFIXES):
            return self.webhook
        if path in UPLOAD_PATHS:
            return self.upload
        return self.default


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None when it declared none (chunked) or a malformed one."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length itself
    return None


class BodyLimit:
    """413 ``application/problem+json`` for a body above its route's limit, without buffering it."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit)
            return

        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the 413 has been sent; whatever the app answers to the disconnect is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # after a refusal the app's complaint about the cut-off body is expected

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        body = problem_body(
            status=413,
            title="Payload too large",
            detail=f"the request body is larger than this route's limit of {limit} bytes",
            instance=scope["path"],
            request_id=str(scope.get("state", {}).get("request_id", "")),
        )
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", PROBLEM.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
