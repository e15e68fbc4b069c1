"""Request ids, security headers, access logs and Prometheus request metrics, as a plain ASGI middleware.

A caller's ``X-Request-ID`` is kept only when it is 1-64 characters of ``[A-Za-z0-9._:-]`` (it is
stored in the audit log's 64-character column and echoed in headers); anything else is replaced
by a fresh id. Logged paths have phone numbers masked (``core.logging.mask_phones``). The providers'
webhooks are logged only when they fail (``PROVIDER_WEBHOOKS``).

Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs each
request through an extra task and memory stream, which costs throughput on the webhook hot path.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body_limit import BodyLimit, BodyLimits
from api.security_headers import with_security_headers
from core.logging import mask_phones

REQUESTS = Counter("relais_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("relais_http_request_seconds", "HTTP request latency", ["method", "route"])
log = structlog.get_logger("relais.access")
QUIET_ROUTES = frozenset({"/healthz", "/metrics"})
# Logged only when refused or failed (status >= 400): a provider posts one per message sent or received
# (a 10,000-message campaign, 10,000 delivery reports), and the line cost the API more than the rest of
# this middleware; relais_http_requests_total still counts every one.
PROVIDER_WEBHOOKS = frozenset({"/webhooks/vonage/inbound", "/webhooks/vonage/status"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(header: bytes) -> str:
    """The caller's request id when it is short and plain, else a new one (never an error): 32 random hex
    digits. An id only correlates log lines, it guards nothing (a caller may send its own), so it comes
    from ``random`` (reseeded in a forked child) rather than ``uuid4``'s system call per request."""
    candidate = header.decode("latin-1")
    return candidate if _REQUEST_ID.fullmatch(candidate) else f"{random.getrandbits(128):032x}"


_counted: dict[tuple[str, str, str], Any] = {}
_timed: dict[tuple[str, str], Any] = {}


def _count(method: str, template: str, status: int, elapsed: float) -> None:
    """``REQUESTS`` and ``LATENCY`` for one request, their labelled children kept: ``labels()`` builds and
    looks each up under a lock, which cost a provider webhook more than counting it."""
    key = (method, template, str(status))
    counter = _counted.get(key)
    if counter is None:
        counter = _counted[key] = REQUESTS.labels(*key)
    counter.inc()
    timer = _timed.get((method, template))
    if timer is None:
        timer = _timed[(method, template)] = LATENCY.labels(method, template)
    timer.observe(elapsed)


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # a provider webhook the fast path handed over keeps the id its checks already logged under
        request_id = state.get("request_id") or request_id_from(
            dict(scope.get("headers") or []).get(b"x-request-id", b"")
        )
        state["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = with_security_headers(scope["path"], list(message.get("headers", ())))
                message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            template = getattr(scope.get("route"), "path", "unmatched")
            finish_request(scope, template, status, time.perf_counter() - start, request_id)


def finish_request(scope: Scope, template: str, status: int, elapsed: float, request_id: str) -> None:
    """Count and time a request answered (``status``) under its route's path ``template``, and write its
    access line unless its route is quiet or a provider webhook that succeeded."""
    _count(scope["method"], template, status, elapsed)
    if template not in QUIET_ROUTES and (status >= 400 or template not in PROVIDER_WEBHOOKS):
        log.info(
            "request",
            method=scope["method"],
            path=mask_phones(scope["path"]),
            status=status,
            ms=round(elapsed * 1000, 1),
            request_id=request_id,
        )


def install(app: FastAPI) -> None:
    """The chain every request goes through, bar the signed provider webhooks the fast path answers
    (``api.routes.webhooks_in.ProviderFastPath``, outside this chain: it applies the same rules itself)."""
    # added before RequestContext, so it runs inside it: a 413 carries a request id and is logged
    app.add_middleware(BodyLimit, limits=BodyLimits.from_settings(app.state.settings))
    app.add_middleware(RequestContext)
