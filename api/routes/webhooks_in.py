"""Provider webhooks: Vonage inbound messages and delivery reports (signed, answered fast).

Inbound texts are stored as received (one insert, deduplicated by the provider's message id) and
processed by a worker; delivery reports are kept in Redis and applied in batches by a job
(:mod:`delivery.reports`). The status route runs on the event loop, a campaign's thousands of reports
a second each costing no worker thread, its Redis push grouped with the concurrent reports'.
Unsigned, badly signed or stale (> 5 min) requests get 401 problem+json from the adapter's check.

Signed status and inbound webhooks are answered by :class:`ProviderFastPath`, an ASGI layer around the
whole app that applies the request id, metrics, access-log, security-header and body-limit rules itself,
before the app's middlewares, routing, dependencies and exception layers: those cost the API more
processor time per report than checking and keeping it, and as much per inbound text as its insert.
Anything else (a bad signature, a malformed body, the channel off, Redis or the database failing) is
handed to the whole app, and so to the routes below, with the body it read, so the routes' checks and
the app's error handlers answer (an inbound text stored before the failure is not stored twice: the
insert is deduplicated).

The inbound route takes no request session: each text is one autocommitted insert
(``conversations.flows.store_inbound``), run with its commit in one worker thread, so under a burst
a SQLite write lock is never held while a commit waits for a free thread (a pool deadlock), and
PostgreSQL is spared a BEGIN and a COMMIT per text.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body_limit import BodyLimits, declared_length
from api.middleware import finish_request, request_id_from
from api.security_headers import with_security_headers
from channels.base import Channel, WebhookRequest
from channels.registry import get_channel
from conversations import flows
from core.errors import NotFound
from core.redis import get_redis
from core.settings import Settings
from delivery import reports

router = APIRouter(tags=["webhooks-in"])

STATUS_PATH = "/webhooks/vonage/status"
INBOUND_PATH = "/webhooks/vonage/inbound"
PUBLIC_PATHS = frozenset({INBOUND_PATH, STATUS_PATH})

_lock = threading.Lock()
_channels: dict[int, Channel] = {}


def _vonage(settings: Settings) -> Channel:
    if settings.channel != "vonage":
        raise NotFound("the Vonage channel is not enabled (RELAIS_CHANNEL)")
    with _lock:
        channel = _channels.get(id(settings))
        if channel is None:
            channel = _channels[id(settings)] = get_channel(settings)
    return channel


async def _webhook(request: Request) -> WebhookRequest:
    return WebhookRequest.build(
        method=request.method,
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=await request.body(),
    )


@router.get(INBOUND_PATH)
@router.post(INBOUND_PATH)
def vonage_inbound(request: Request, webhook: WebhookRequest = Depends(_webhook)) -> JSONResponse:
    """Store the text(s) and answer 200; a replay stores nothing (``stored`` 0).

    The answer is a ready response: a returned dict would be validated by FastAPI in a second
    worker-thread hand-off per text."""
    return JSONResponse({"stored": store_texts(request.app.state.settings, webhook)})


def store_texts(settings: Settings, webhook: WebhookRequest) -> int:
    """Check an inbound webhook and store its text(s); returns how many were new (blocking: run it in
    a worker thread). Raises what the adapter's checks raise and what the database raised."""
    channel = _vonage(settings)
    channel.verify_signature(request=webhook)
    return flows.store_inbound(channel.parse_inbound(request=webhook), channel="vonage")


async def take_status(settings: Settings, webhook: WebhookRequest) -> int:
    """Check a status webhook and keep its reports for the apply job; returns how many were kept.

    Raises what the adapter's checks raise (signature, malformed body) and what Redis raised."""
    channel = _vonage(settings)
    channel.verify_signature(request=webhook)
    return await reports.stager(get_redis(settings)).stage(channel.parse_status(request=webhook))


@router.get(STATUS_PATH)
@router.post(STATUS_PATH)
async def vonage_status(request: Request) -> JSONResponse:
    """Take delivery reports for the apply job; ``accepted`` counts them, kept in Redis by then."""
    webhook = await _webhook(request)  # the body first: one too large is refused (413) before anything else
    return JSONResponse({"accepted": await take_status(request.app.state.settings, webhook)})


class ProviderFastPath:
    """Answers signed status and inbound webhooks outside the whole app (see the module docstring); an
    inbound text's checks and insert run in one worker-thread hand-off.

    It wraps the app (``api.app.RelaisApp`` calls it for the two provider paths) and keeps what the app's
    outer layers guarantee by calling their own rules: the request id (``api.middleware.request_id_from``,
    bound for the logs), the security headers (``with_security_headers``, built once per answer), the
    request metrics and access-log rule (``finish_request``) and the body limit (``BodyLimits``). A body
    declared or found above its limit, a client gone before the end of its body, or a request whose checks
    or keeping fail, is handed to the whole app (with what was read of the body), whose layers answer it.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings, limits: BodyLimits) -> None:
        self.app = app
        self.settings = settings
        self.limits = {path: limits.for_path(path) for path in PUBLIC_PATHS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope["path"])
        if (
            limit is None
            or scope["type"] != "http"
            or scope["method"] not in ("GET", "POST")
            or (declared_length(scope) or 0) > limit
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        messages, complete = await _read_body(receive, limit)
        if not complete and messages[-1]["type"] == "http.request":  # over the limit: the app's 413
            await self.app(scope, _replay(messages, receive), send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        request_id = request_id_from(headers.get("x-request-id", "").encode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        if not complete:  # the client went away: no answer, counted and logged as the request context does
            finish_request(scope, "unmatched", 500, time.perf_counter() - start, request_id)
            return
        body = b"".join(message.get("body", b"") for message in messages)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            webhook = WebhookRequest.build(
                method=scope["method"],
                headers=headers,
                query=_query(scope["query_string"]),
                body=body,
            )
            if scope["path"] == STATUS_PATH:
                key, count = "accepted", await take_status(self.settings, webhook)
            else:
                key, count = "stored", await run_in_threadpool(store_texts, self.settings, webhook)
        except Exception:  # the route repeats the checks; the app's handlers give the answer (401, 404, 422, 500)
            await self.app(scope, _replay([{"type": "http.request", "body": body}], _disconnected), send)
            return
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        status = 500
        try:
            answer_headers, answer = _answer(scope["path"], key, count)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*answer_headers, (b"x-request-id", request_id.encode("latin-1"))],
                }
            )
            status = 200
            await send({"type": "http.response.body", "body": answer})
        finally:
            finish_request(scope, scope["path"], status, time.perf_counter() - start, request_id)


def _query(raw: bytes) -> dict[str, str]:
    """The query string's fields (a provider posting its reports sends none: nothing to parse)."""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


@functools.lru_cache(maxsize=64)
def _answer(path: str, key: str, count: int) -> tuple[tuple[tuple[bytes, bytes], ...], bytes]:
    """The 200's headers (security headers included, not the request id) and body for ``{key: count}``,
    built once: a report's answer is nearly always ``{"accepted":1}``, and ``json.dumps`` with separators
    builds a new encoder per call."""
    body = json.dumps({key: count}, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return tuple(with_security_headers(path, headers)), body


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's messages, and whether its body arrived whole within ``limit`` bytes (not cut by a
    disconnect, nothing read past the message that went over the limit)."""
    messages: list[Message] = []
    received = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        received += len(message.get("body", b""))
        if received > limit:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A ``receive`` that hands the app the messages already read, then asks ``then``."""
    pending = iter(messages)

    async def receive() -> Message:
        message = next(pending, None)
        return message if message is not None else await then()

    return receive
