"""The simulator channel's API and its browser phone (public, only while the simulator is the channel)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from channels.base import WebhookRequest
from channels.limits import MAX_INBOUND_CHARS
from channels.phone import normalize_e164
from channels.simulator import SIMULATOR_NUMBER, SimulatorChannel
from channels.simulator_outbox import redis_outbox
from conversations import flows
from core import db
from core.bodies import RequestBody
from core.errors import NotFound
from core.settings import Settings

router = APIRouter(tags=["simulator"])

PUBLIC_PATHS = frozenset({"/api/v1/simulator/inbound", "/api/v1/simulator/messages", "/simulator"})

_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


class SimulatedInbound(RequestBody):
    from_: str = Field(alias="from", description="the customer's number, E.164")
    body: str = Field(default="", max_length=MAX_INBOUND_CHARS)
    media: list[dict[str, Any]] | None = None
    to: str | None = Field(default=None, description="the business number texted; default the simulator's own")
    id: str | None = Field(default=None, max_length=200, description="the provider message id: a repeat is a duplicate")


class SimulatedMessageOut(BaseModel):
    seq: int
    provider_message_id: str
    from_: str = Field(serialization_alias="from")
    to: str
    body: str
    media: list[dict[str, Any]]
    encoding: str
    segments: int
    sent_at: datetime


def _require_simulator(settings: Settings) -> None:
    if settings.channel != "simulator":
        raise NotFound("the simulator channel is not enabled")


async def _webhook(request: Request) -> WebhookRequest:
    return WebhookRequest.build(method="POST", headers=dict(request.headers), body=await request.body())


@router.post("/api/v1/simulator/inbound", status_code=202)
def simulate_inbound(
    request: Request,
    _: SimulatedInbound,
    webhook: WebhookRequest = Depends(_webhook),
) -> dict[str, Any]:
    """Text in as a customer; goes through the same store-first path as a provider webhook."""
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    channel = SimulatorChannel(outbox=redis_outbox(settings), default_region=settings.default_region)
    inbound = channel.parse_inbound(request=webhook)[0]
    with db.session_scope() as session:  # insert + commit in one thread, as in webhooks_in
        event_id = flows.stage_inbound(session, inbound=inbound, channel="simulator")
    return {"event_id": event_id, "from": inbound.from_, "to": inbound.to, "duplicate": event_id is None}


@router.get("/api/v1/simulator/messages", response_model=list[SimulatedMessageOut], response_model_by_alias=True)
def simulated_messages(
    request: Request,
    phone: str = Query(description="the simulated phone, E.164"),
    after: int = Query(0, ge=0, description="only messages with a larger seq (polling)"),
) -> list[SimulatedMessageOut]:
    """What ``phone`` received, oldest first."""
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    e164 = normalize_e164(phone, region=settings.default_region, field="phone")
    return [
        SimulatedMessageOut(
            seq=seq,
            provider_message_id=m.provider_message_id,
            from_=m.from_,
            to=m.to,
            body=m.text,
            media=flows.media_dicts(m.media),
            encoding=m.encoding,
            segments=m.segments,
            sent_at=m.sent_at,
        )
        for seq, m in redis_outbox(settings).messages_for(e164, after=after)
    ]


@router.get("/simulator", response_class=HTMLResponse, include_in_schema=False)
def simulator_page(request: Request) -> HTMLResponse:
    """A phone in the browser: pick a number, text the business, see replies arrive."""
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    return _templates.TemplateResponse(
        request,
        "simulator/phone.html",
        {"business_name": settings.business_name, "brand_color": settings.brand_color, "number": SIMULATOR_NUMBER},
    )
