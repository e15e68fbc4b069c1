"""The simulator channel's API and its browser phone (public, only while the simulator is the channel).

Texting in is anonymous, reading is not: what a number received is shown to the browser that texts as
that number, from the moment it started (the token ``POST .../inbound`` returns, sent back in
``X-Simulator-Token``), and to a signed-in user as the messages API would show it to their role
(admins everything, agents conversations, marketers marketing, analysts nothing). So nobody reads
another number's history anonymously, nor through the simulator what their role may not read.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import db_session, optional_principal
from campaigns.brand import business_name
from channels.base import WebhookRequest
from channels.limits import MAX_INBOUND_CHARS
from channels.phone import normalize_e164
from channels.simulator import SIMULATOR_NUMBER, SimulatedMedia, SimulatorChannel
from channels.simulator_outbox import redis_outbox
from conversations import flows
from conversations.visibility import Viewer, visible_provider_ids
from core import db
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import Forbidden, NotFound, Unauthorized
from core.runtime import secret_key
from core.security import tokens
from core.settings import Settings

router = APIRouter(tags=["simulator"])

PUBLIC_PATHS = frozenset({"/api/v1/simulator/inbound", "/api/v1/simulator/messages", "/simulator"})

_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


class SimulatedInbound(RequestBody):
    from_: str = Field(alias="from", description="the customer's number, E.164")
    body: str = Field(default="", max_length=MAX_INBOUND_CHARS)
    media: list[SimulatedMedia] | None = Field(default=None, max_length=10)
    to: str | None = Field(default=None, max_length=32,
                           description="the business number texted (E.164, a short code); default the simulator's")
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


def phone_token(settings: Settings, phone: str, since: int) -> str:
    """``<since>.<mac>``: lets its holder read what ``phone`` received from ``since`` (unix milliseconds) on."""
    mac = hmac.new(secret_key(settings).encode(), f"simulator:{phone}:{since}".encode(), hashlib.sha256)
    return f"{since}.{mac.hexdigest()[:32]}"


def _token_since(settings: Settings, phone: str, token: str) -> datetime:
    """From when this phone token reads ``phone``'s messages.

    Raises:
        Forbidden: the token is not one this server issued for ``phone``.
    """
    since, _, _ = token.partition(".")
    readable = since.isascii() and since.isdigit() and len(since) <= 15  # ms; int() of 5,000 digits raises
    if not readable or not tokens.same(token, phone_token(settings, phone, int(since))):
        raise Forbidden("this simulator token is not for this phone")
    return datetime.fromtimestamp(int(since) / 1000, UTC)


async def _webhook(request: Request) -> WebhookRequest:
    return WebhookRequest.build(method="POST", headers=dict(request.headers), body=await request.body())


@router.post("/api/v1/simulator/inbound", status_code=202)
def simulate_inbound(
    request: Request,
    _: SimulatedInbound,
    webhook: WebhookRequest = Depends(_webhook),
) -> dict[str, Any]:
    """Text in as a customer; goes through the same store-first path as a provider webhook.

    The answer's ``token`` reads this phone's messages from now on (``X-Simulator-Token``).
    """
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    channel = SimulatorChannel(outbox=redis_outbox(settings), default_region=settings.default_region)
    inbound = channel.parse_inbound(request=webhook)[0]
    with db.session_scope() as session:  # insert + commit in one thread, as in webhooks_in
        event_id = flows.stage_inbound(session, inbound=inbound, channel="simulator")
    return {
        "event_id": event_id,
        "from": inbound.from_,
        "to": inbound.to,
        "duplicate": event_id is None,
        "token": phone_token(settings, inbound.from_, int(time.time() * 1000)),
    }


@router.get("/api/v1/simulator/messages", response_model=list[SimulatedMessageOut], response_model_by_alias=True)
def simulated_messages(
    request: Request,
    phone: str = Query(description="the simulated phone, E.164"),
    after: int = Query(0, ge=0, description="only messages with a larger seq (polling)"),
    token: str = Header("", alias="X-Simulator-Token", description="from POST /api/v1/simulator/inbound"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal | None = Depends(optional_principal),
) -> list[SimulatedMessageOut]:
    """What ``phone`` received, oldest first: since the token's time for the phone holding it, and what
    the messages API shows a signed-in caller's role (``conversations.visibility``: an analyst nothing)."""
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    e164 = normalize_e164(phone, region=settings.default_region, field="phone")
    since: datetime | None = None
    if token:
        try:
            since = _token_since(settings, e164, token)
        except Forbidden:
            if principal is None:
                raise
    elif principal is None:
        raise Unauthorized("sign in, or send the X-Simulator-Token this phone's first text returned")
    received = redis_outbox(settings).messages_for(e164, after=after)
    readable: set[str] = set()
    if principal is not None:
        # a signed-in user read every phone whatever their role: an analyst read what agents and campaigns sent
        viewer = Viewer(role=principal.role, kind=principal.kind, id=principal.id)
        readable = visible_provider_ids(session, viewer, [m.provider_message_id for _, m in received])
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
        for seq, m in received
        if (since is not None and m.sent_at >= since) or m.provider_message_id in readable
    ]


def _reads_any_phone(request: Request, session: Session = Depends(db_session, scope="function")) -> bool:
    """Whether ``GET .../messages`` would take this browser's console session as a signed-in user's; never an
    error, since the phone works without one (a user who must change their password, say, texts as anyone)."""
    try:
        return optional_principal(request, session) is not None
    except (Unauthorized, Forbidden):
        return False


@router.get("/simulator", response_class=HTMLResponse, include_in_schema=False)
def simulator_page(request: Request, signed_in: bool = Depends(_reads_any_phone)) -> HTMLResponse:
    """A phone in the browser (a number of its own per browser), text the business, see replies arrive.

    The page asks for the phone's messages only when it may read them (``signed_in``, or once a text returned the
    phone's token): an anonymous phone that had not texted yet was answered 401 every 1.5 s.
    """
    settings: Settings = request.app.state.settings
    _require_simulator(settings)
    with db.session_scope() as session:
        name = business_name(session, settings)
    return _templates.TemplateResponse(
        request,
        "simulator/phone.html",
        {"business_name": name, "brand_color": settings.brand_color, "number": SIMULATOR_NUMBER,
         "signed_in": signed_in},
    )
