"""Pause, resume and cancel a campaign from its page, and export its per-recipient outcomes.

The buttons post here (after the page's confirmation dialog); each calls the REST route function
of ``api.routes.campaigns``, so the state checks, the re-planning on resume and the audit entries
(``campaign.pause`` / ``resume`` / ``cancel``) are the API's own, and the delivery authority then
holds (paused) or rejects (cancelled) the campaign's queued messages at send time. A refused
action (a campaign that finished meanwhile) answers 409 with the reason, shown above the buttons.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute
from api.deps import db_session, require
from api.routes import campaigns as rest
from campaigns import outcomes, service
from core import db
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
READERS = require(Role.MARKETER, Role.ANALYST)
ACTIONS = {"pause": (rest.pause_campaign, "paused"), "resume": (rest.resume_campaign, "resumed"),
           "cancel": (rest.cancel_campaign, "cancelled")}


@router.post("/campaigns/{campaign_id:int}/{action}", response_class=Response)
def act(
    request: Request,
    campaign_id: int,
    action: Literal["pause", "resume", "cancel"],
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> Response:
    """Pause, resume or cancel (a draft's cancel discards it), then reload the page saying what was done."""
    call, done = ACTIONS[action]
    call(campaign_id, request, session, principal)
    return Response(status_code=204, headers={"HX-Location": f"/console/campaigns/{campaign_id}?done={done}"})


@router.get("/campaigns/{campaign_id:int}/recipients.csv", response_class=StreamingResponse)
def recipients_csv(
    campaign_id: int,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(READERS),
) -> StreamingResponse:
    """One line per message: status, reason, arm, planned/sent/delivered times (UTC), cost, clicks."""
    service.get_campaign(session, campaign_id)  # 404 before the download starts

    def chunks() -> Iterator[str]:
        # the request's session is closed once the route returns; the stream reads with its own
        with db.session_scope() as reader:
            yield from outcomes.csv_chunks(reader, campaign_id)

    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"'})
