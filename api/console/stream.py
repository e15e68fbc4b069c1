"""The live console: server-sent events relayed from Redis pub/sub (``handoff.events.channel``).

Redis rather than an in-process bus, so an event produced by any worker or API replica reaches
every open console. Each event is sent as ``event: <kind>`` with the JSON payload as data; a
comment line every ``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream. The caller is
checked again every ``RECHECK_SECONDS``: a log-out, a deactivation, a new role or a revoked API key
ends an open stream (it relayed events for as long as the connection stayed open).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute
from api.deps import db_session, optional_principal, require
from core import db
from core.accounts import Principal
from core.errors import Forbidden, Unauthorized
from core.rbac import Role
from core.redis import get_redis
from handoff.events import channel

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.25
RECHECK_SECONDS = 5.0
READERS = require(Role.AGENT, Role.ANALYST)


def format_event(payload: dict[str, Any]) -> str:
    """One SSE frame; the event name is the payload's ``kind``."""
    kind = str(payload.get("kind", "message")).replace("\n", " ")
    return f"event: {kind}\ndata: {json.dumps(payload, default=str)}\n\n"


def _still_admitted(request: Request) -> bool:
    """Whether the stream's caller would be let in now (session or key, role), as at its first request."""
    with db.session_scope() as session:
        try:
            READERS(optional_principal(request, session))
        except (Unauthorized, Forbidden):
            return False
    return True


async def _events(request: Request) -> AsyncIterator[str]:
    client = get_redis(request.app.state.settings)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await anyio.to_thread.run_sync(pubsub.subscribe, channel(client))
    try:
        yield "retry: 2000\n: connected\n\n"
        last = checked = time.monotonic()
        while not await request.is_disconnected():
            if time.monotonic() - checked > RECHECK_SECONDS:
                if not await anyio.to_thread.run_sync(_still_admitted, request):
                    return
                checked = time.monotonic()
            message = await anyio.to_thread.run_sync(lambda: pubsub.get_message(timeout=POLL_SECONDS))
            if message is not None and message.get("type") == "message":
                data = message["data"]
                try:
                    payload = json.loads(data.decode() if isinstance(data, bytes) else data)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(payload, dict):
                    yield format_event(payload)
                    last = time.monotonic()
            elif time.monotonic() - last > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last = time.monotonic()
    finally:
        await anyio.to_thread.run_sync(pubsub.close)


@router.get("/stream")
def stream(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(READERS),
) -> StreamingResponse:
    """Live events for the inbox, the open conversation and the supervisor view."""
    # The request's session (the guard's, shared) would stay open as long as the stream: end its
    # transaction now so an API key's ``last_used_at`` write does not hold SQLite's write lock.
    session.commit()
    return StreamingResponse(
        _events(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
