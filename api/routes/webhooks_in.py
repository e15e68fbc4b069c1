"""Provider webhooks: Vonage inbound messages and delivery reports (signed, answered fast).

Inbound texts are stored as received (one insert, deduplicated by the provider's message id) and
processed by a worker; delivery reports are kept in Redis and applied in batches by a job
(:mod:`delivery.reports`). The status route runs on the event loop, a campaign's thousands of reports
a second each costing no worker thread, its Redis push grouped with the concurrent reports'.
Unsigned, badly signed or stale (> 5 min) requests get 401 problem+json from the adapter's check.

Signed status and inbound webhooks are answered by :class:`ProviderFastPath`, an ASGI middleware
inside the request id, metrics, security headers and body limit, before the framework's routing,
dependencies and exception layers: those cost the API more processor time per report than checking
and keeping it, and as much per inbound text as its insert. Anything else (a bad signature, a
malformed body, the channel off, Redis or the database failing) is handed to the routes below with
the body it read, so the routes' checks and the app's error handlers answer (an inbound text stored
before the failure is not stored twice: the insert is deduplicated).

The inbound route takes no request session: each text is one autocommitted insert
(``conversations.flows.store_inbound``), run with its commit in one worker thread, so under a burst
a SQLite write lock is never held while a commit waits for a free thread (a pool deadlock), and
PostgreSQL is spared a BEGIN and a COMMIT per text.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import NamedTuple
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class _Matched(NamedTuple):
    """What the request metrics read of a matched route (``api.middleware``): its path template."""

    path: str


class ProviderFastPath:
    """Answers signed status and inbound webhooks without the framework's routing (see the module
    docstring); an inbound text's checks and insert run in one worker-thread hand-off.

    Install it inside the body limit (its reads are counted and cut there) and the request context.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PUBLIC_PATHS or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if not complete:  # the client went away, or the body limit refused it (and answered 413)
            return
        try:
            webhook = WebhookRequest.build(
                method=scope["method"],
                headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
                query=dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)),
                body=body,
            )
            settings = scope["app"].state.settings
            if scope["path"] == STATUS_PATH:
                key, count = "accepted", await take_status(settings, webhook)
            else:
                key, count = "stored", await run_in_threadpool(store_texts, settings, webhook)
        except Exception:  # the route repeats the checks; the app's handlers give the answer (401, 404, 422, 500)
            await self.app(scope, _replay(body), send)
            return
        scope["route"] = _MATCHED[scope["path"]]
        headers, answer = _answer(key, count)
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": answer})


_MATCHED = {path: _Matched(path) for path in PUBLIC_PATHS}


@functools.lru_cache(maxsize=64)
def _answer(key: str, count: int) -> tuple[tuple[tuple[bytes, bytes], ...], bytes]:
    """The 200's headers and body for ``{key: count}``, built once: a report's answer is nearly always
    ``{"accepted":1}``, and ``json.dumps`` with separators builds a new encoder per call."""
    body = json.dumps({key: count}, separators=(",", ":")).encode()
    return ((b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))), body


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether it arrived whole (not cut by a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the app the body already read, then reports a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
