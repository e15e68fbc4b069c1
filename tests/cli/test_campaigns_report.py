"""``relais campaigns report``: the JSON and CSV it writes carry an adaptive campaign's section and each
run's forecast beside that run's figures, as the report assembled in the database says."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from typer.testing import CliRunner

from campaigns import adaptive_report, forecasting, tasks
from campaigns.models import Campaign
from campaigns.scheduling import aware
from cli.main import app
from conversations.models import Message
from core import db
from core.settings import Settings
from tests.campaigns.test_adaptive import adaptive_campaign, run_adaptive


def _weekly_adaptive_in_its_second_run() -> tuple[int, int]:
    """An adaptive campaign made weekly: its first run is prepared batch by batch, delivered and completed
    (its forecast stored as it started); the second has started (its own forecast stored) and allocated its
    first batch, nothing sent yet. Returns the campaign and how many messages its first run sent."""
    cid = adaptive_campaign(120, arms=2, max_hours=2)
    with db.session_scope() as session:
        session.get_one(Campaign, cid).recurrence = "0 12 * * 3"
    last = run_adaptive(cid, {"A": 0.05, "B": 0.3})
    with db.session_scope() as session:
        texted = session.execute(update(Message).where(Message.campaign_id == cid).values(status="delivered"))
        first_run = int(getattr(texted, "rowcount", 0))
    tasks.sweep(now=last + timedelta(minutes=1))  # completes the first run, schedules the next one
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        assert campaign.status == "scheduled" and campaign.next_run_at is not None
        second = aware(campaign.next_run_at)
    tasks.sweep(now=second)
    assert tasks.prepare_campaign(cid, now=second) > 0
    return cid, first_run


def _expected(cid: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The adaptive section (the current run's) and each run's forecast beside its figures, as the report's
    own functions give them, through JSON as the command prints them."""
    with db.session_scope() as session:
        campaign = session.get_one(Campaign, cid)
        section, compared = adaptive_report.section(session, campaign), forecasting.comparison(session, campaign)
    assert section is not None and compared is not None
    return json.loads(json.dumps(section, default=str)), json.loads(json.dumps(compared, default=str))


def test_report_as_json_and_csv_carries_the_adaptive_section_and_each_runs_forecast(
        runtime: Settings, tmp_path: Path) -> None:
    cid, texted = _weekly_adaptive_in_its_second_run()
    section, compared = _expected(cid)
    runner = CliRunner()

    printed = runner.invoke(app, ["campaigns", "report", str(cid)])
    assert printed.exit_code == 0, printed.output
    report = json.loads(printed.stdout)
    assert report["campaign_id"] == cid and report["run"] == 2
    assert report["adaptive"] == section and section["batches"] and set(section["arms"]) == {"A", "B"}
    assert report["forecast"] == compared and [r["run"] for r in report["forecast"]["runs"]] == [1, 2]
    first, second = ({m["metric"]: m for m in run["metrics"]} for run in report["forecast"]["runs"])
    assert first["delivered"]["actual"] == texted > 0  # the first run's own figures
    assert second["delivered"]["actual"] == 0 and second["delivered"]["forecast"]["expected"] > 0  # nothing sent yet

    path = tmp_path / "report.csv"
    written = runner.invoke(app, ["campaigns", "report", str(cid), "--format", "csv", "--output", str(path)])
    assert written.exit_code == 0, written.output
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    flat = {(r["scope"], r["metric"]): r["value"] for r in rows}
    assert len(flat) == len(rows)  # no (scope, metric) twice
    assert flat[("adaptive", "why")] == section["why"]
    assert flat[("adaptive", "control_share")] == str(section["control_share"])
    for batch in section["batches"]:
        scope = f"adaptive batch {batch['batch']}"
        assert {arm: int(flat[(scope, f"allocated.{arm}")]) for arm in batch["counts"]} == batch["counts"]
    for run in compared["runs"]:
        scope = f"forecast run {run['run']}"
        assert flat[(scope, "made_at")] == run["made_at"]
        delivered = next(m for m in run["metrics"] if m["metric"] == "delivered")
        assert flat[(scope, "delivered.expected")] == str(delivered["forecast"]["expected"])
        assert float(flat[(scope, "delivered.actual")]) == delivered["actual"]

    refused = runner.invoke(app, ["campaigns", "report", str(cid), "--format", "xlsx"])
    assert refused.exit_code != 0 and "xlsx needs --output" in refused.output
