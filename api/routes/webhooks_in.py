"""Provider webhooks: Vonage inbound messages and delivery reports (signed, answered fast).

Inbound texts are stored as received (one insert, deduplicated by the provider's message id) and
processed by a worker; delivery reports are kept in Redis and applied in batches by a job
(:mod:`delivery.reports`). The status route runs on the event loop, a campaign's thousands of reports
a second each costing no worker thread, its Redis push grouped with the concurrent reports'.
Unsigned, badly signed or stale (> 5 min) requests get 401 problem+json from the adapter's check.

The inbound route takes no request session: each text is one autocommitted insert
(``conversations.flows.store_inbound``), run with its commit in one worker thread, so under a burst
a SQLite write lock is never held while a commit waits for a free thread (a pool deadlock), and
PostgreSQL is spared a BEGIN and a COMMIT per text.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from channels.base import Channel, WebhookRequest
from channels.registry import get_channel
from conversations import flows
from core.errors import NotFound
from core.redis import get_redis
from core.settings import Settings
from delivery import reports

router = APIRouter(tags=["webhooks-in"])

PUBLIC_PATHS = frozenset({"/webhooks/vonage/inbound", "/webhooks/vonage/status"})

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


@router.get("/webhooks/vonage/inbound")
@router.post("/webhooks/vonage/inbound")
def vonage_inbound(request: Request, webhook: WebhookRequest = Depends(_webhook)) -> dict[str, int]:
    """Store the text(s) and answer 200; a replay stores nothing (``stored`` 0)."""
    channel = _vonage(request.app.state.settings)
    channel.verify_signature(request=webhook)
    return {"stored": flows.store_inbound(channel.parse_inbound(request=webhook), channel="vonage")}


@router.get("/webhooks/vonage/status")
@router.post("/webhooks/vonage/status")
async def vonage_status(request: Request) -> JSONResponse:
    """Take delivery reports for the apply job; ``accepted`` counts them, kept in Redis by then."""
    webhook = await _webhook(request)  # the body first: one too large is refused (413) before anything else
    settings = request.app.state.settings
    channel = _vonage(settings)
    channel.verify_signature(request=webhook)
    accepted = await reports.stager(get_redis(settings)).stage(channel.parse_status(request=webhook))
    return JSONResponse({"accepted": accepted})
