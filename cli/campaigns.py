"""``relais campaigns list|start|report``: campaigns from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlalchemy import select

from cli.actor import CLI_ACTOR
from cli.console import console, progress_bar
from core import audit, db
from core.db import utcnow
from core.runtime import bootstrap

campaigns_app = typer.Typer(help="Outbound campaigns.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(campaigns_app, name="campaigns")


@campaigns_app.command("list")
def list_campaigns() -> None:
    """Every campaign with its status and counters."""
    bootstrap()
    from campaigns.models import Campaign

    with db.session_scope() as session:
        for c in session.scalars(select(Campaign).order_by(Campaign.id)):
            console.print(f"{c.id:>5}  {c.status:<10} run {c.run}  prepared {c.prepared:>8}  {c.name}")


@campaigns_app.command("start")
def start(campaign_id: int) -> None:
    """Start a draft or scheduled campaign now and prepare it in this process (workers send it)."""
    bootstrap()
    from campaigns import flows, service, tasks
    from campaigns.schemas import ScheduleIn

    with db.session_scope() as session:
        campaign = service.get_campaign(session, campaign_id, lock=True)
        now = utcnow()
        if campaign.status in ("draft", "scheduled"):
            service.schedule(session, campaign, ScheduleIn(), now=now)
            flows.start_run(session, campaign, now=now)
        audit.record(session, actor=CLI_ACTOR, action="campaign.schedule", target_type="campaign",
                     target_id=campaign.id, diff={"status": campaign.status})
    with progress_bar() as bar:
        task = bar.add_task("preparing", total=None)
        queued = tasks.prepare_campaign(campaign_id, progress=lambda n: bar.update(task, advance=n))
    console.print(f"{queued} messages queued; workers send each at its planned time, within its delivery window")


@campaigns_app.command("report")
def report(campaign_id: int, format: str = typer.Option("json", help="json, csv or xlsx"),
           output: Path | None = typer.Option(None, help="write to this file instead of the terminal")) -> None:
    """The campaign report (totals, failures, clicks, replies, opt-outs, conversions, cost, A/B arms, send-time
    lift, an adaptive campaign's allocation and lift over control, each run's forecast vs actual)."""
    bootstrap()
    from campaigns import report_export, service

    with db.session_scope() as session:
        data = report_export.full_report(session, service.get_campaign(session, campaign_id), now=utcnow())
    if format == "xlsx":
        if output is None:
            raise typer.BadParameter("xlsx needs --output")
        output.write_bytes(report_export.to_xlsx(data))
        return
    text = report_export.to_csv(data) if format == "csv" else json.dumps(data, indent=2, default=str)
    if output is None:
        print(text)
    else:
        output.write_text(text)
