"""Campaigns (marketer): create, schedule, pause/resume/cancel, conversions; reports (marketer, analyst)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from campaigns import flows, forecasting, report_export, reporting, service, uplift_targeting
from campaigns.models import Campaign
from campaigns.prepare import audience_select
from campaigns.preview import audience
from campaigns.scheduling import aware
from campaigns.schemas import CampaignIn, CampaignOut, ConversionIn, ScheduleIn
from campaigns.send_time import planned
from core import audit
from core.accounts import Principal
from core.db import utcnow
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["campaigns"])
READERS = require(Role.MARKETER, Role.ANALYST)
WRITERS = require(Role.MARKETER)


def _out(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign)


def _audit(
    request: Request,
    principal: Principal,
    session: Session,
    action: str,
    campaign: Campaign,
    diff: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor(request, principal),
        action=action,
        target_type="campaign",
        target_id=campaign.id,
        diff=diff or {"status": campaign.status},
    )


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(
    status: str | None = None, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[CampaignOut]:
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if status:
        stmt = stmt.where(Campaign.status == status)
    return [_out(c) for c in session.scalars(stmt.limit(500))]


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(
    body: CampaignIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> CampaignOut:
    campaign = service.create_campaign(session, body, created_by=principal.name)
    _audit(request, principal, session, "campaign.create", campaign, {"name": campaign.name})
    return _out(campaign)


@router.get("/campaigns/timeseries")
def campaign_timeseries(
    since: datetime | None = None,
    until: datetime | None = None,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(READERS),
) -> list[dict[str, Any]]:
    """Per day over every campaign (default: the last 30 days)."""
    end = aware(until) if until else utcnow()
    return reporting.timeseries(session, since=aware(since) if since else end - timedelta(days=30), until=end)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(
    campaign_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> CampaignOut:
    return _out(service.get_campaign(session, campaign_id))


@router.get("/campaigns/{campaign_id}/send-time")
def send_time_plan(
    campaign_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> dict[str, Any]:
    """The best-time plan as if the run started now (or at ``send_at``): recipients per group
    (best_time, random_time), per local hour, by reason, and whether the model personalises hours."""
    campaign = service.get_campaign(session, campaign_id)
    now = utcnow()
    start = max(aware(campaign.send_at), now) if campaign.send_at else now
    recipients = audience(session, campaign, now=now).recipients
    return planned(session, campaign, recipients, start=start, audience=audience_select(session, campaign))


@router.post("/campaigns/{campaign_id}/schedule", response_model=CampaignOut)
def schedule_campaign(
    campaign_id: int,
    body: ScheduleIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> CampaignOut:
    """Send now (empty body), at ``send_at``, or at ``local_time`` on ``local_date`` in each contact's zone."""
    campaign = service.get_campaign(session, campaign_id, lock=True)
    now = utcnow()
    service.schedule(session, campaign, body, now=now)
    forecasting.record(session, campaign, now=now, run=campaign.run + 1)  # for the report's forecast vs actual
    if campaign.next_run_at is not None and aware(campaign.next_run_at) <= now:
        flows.start_run(session, campaign, now=now)
    _audit(
        request,
        principal,
        session,
        "campaign.schedule",
        campaign,
        {"status": campaign.status, "next_run_at": str(campaign.next_run_at), "local_time": campaign.local_time},
    )
    return _out(campaign)


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
def pause_campaign(
    campaign_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> CampaignOut:
    campaign = service.pause(session, service.get_campaign(session, campaign_id, lock=True))
    _audit(request, principal, session, "campaign.pause", campaign)
    return _out(campaign)


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignOut)
def resume_campaign(
    campaign_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> CampaignOut:
    campaign = service.resume(session, service.get_campaign(session, campaign_id, lock=True))
    flows.resume_work(session, campaign)
    _audit(request, principal, session, "campaign.resume", campaign)
    return _out(campaign)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
def cancel_campaign(
    campaign_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> CampaignOut:
    campaign = service.get_campaign(session, campaign_id, lock=True)
    dropped = service.cancel(session, campaign)
    _audit(request, principal, session, "campaign.cancel", campaign, {"status": "cancelled", "dropped": dropped})
    return _out(campaign)


@router.post("/campaigns/{campaign_id}/conversions", status_code=201)
def add_conversion(
    campaign_id: int,
    body: ConversionIn,
    request: Request,
    response: Response,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> dict[str, Any]:
    """Attribute a conversion; a repeated ``reference`` answers 200 with the first one."""
    campaign = service.get_campaign(session, campaign_id)
    conversion, created = service.record_conversion(session, campaign, body, source="api")
    if created:
        _audit(request, principal, session, "campaign.conversion", campaign, {"reference": body.reference})
    else:
        response.status_code = 200
    return {"id": conversion.id, "created": created}


@router.get("/campaigns/{campaign_id}/forecast", response_model=None)
def campaign_forecast(
    campaign_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> dict[str, Any]:
    """Expected delivered, clicks, conversions, revenue, cost and ROI with 80/95 % intervals and their sources:
    computed now for a draft; afterwards the forecast stored at schedule beside the actual figures."""
    return forecasting.view(session, service.get_campaign(session, campaign_id), now=utcnow())


@router.post("/campaigns/uplift/score", response_model=None)
def score_uplift(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(WRITERS)
) -> dict[str, Any]:
    """Train the uplift model on past controlled campaigns and store every contact's ``uplift`` prediction;
    ``enabled`` false (nothing stored) with the reason when there is too little such data."""
    verdict = uplift_targeting.score(session, now=utcnow())
    audit.record(session, actor=actor(request, principal), action="intelligence.uplift_score",
                 target_type="model_version", target_id=uplift_targeting.KIND,
                 diff={"enabled": verdict.enabled, "reason": verdict.reason})
    return asdict(verdict)


@router.get("/campaigns/{campaign_id}/uplift", response_model=None)
def campaign_uplift(
    campaign_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> dict[str, Any]:
    """Whether "only contacts the message is likely to change" can be offered (and why), and for this
    campaign's audience how many it keeps and the expected incremental buyers."""
    campaign = service.get_campaign(session, campaign_id)
    ids = [contact_id for contact_id, _, _ in audience(session, campaign, now=utcnow()).recipients]
    return {**asdict(uplift_targeting.status(session)), **uplift_targeting.planner(session, ids)}


@router.get("/campaigns/{campaign_id}/report", response_model=None)
def campaign_report(
    campaign_id: int,
    format: Literal["json", "csv", "xlsx"] = Query("json"),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(READERS),
) -> Any:
    """Totals, failures by reason, clicks/CTR, replies, opt-outs, conversions, cost, per A/B arm; an adaptive
    campaign's allocation over time, per-arm rates and lift over its control (``adaptive``)."""
    report = report_export.full_report(session, service.get_campaign(session, campaign_id), now=utcnow())
    name = f"campaign-{campaign_id}-report"
    if format == "csv":
        return Response(
            report_export.to_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            report_export.to_xlsx(report),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return report
