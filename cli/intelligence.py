"""``relais intelligence score``: train the prediction models on the orders and score every contact."""

from __future__ import annotations

from datetime import datetime

import typer

from campaigns import uplift_targeting
from cli.actor import CLI_ACTOR
from cli.console import console
from core import audit, db
from core.db import utcnow
from core.runtime import bootstrap
from intelligence import response_scoring, scoring, tasks

intelligence_app = typer.Typer(help="Predictions learnt from the order history.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(intelligence_app, name="intelligence")


def print_result(result: scoring.ScoringResult) -> None:
    """Which path the run took and why, then what it wrote."""
    if result.path != scoring.SCORED:
        console.print(f"[yellow]Nothing stored: {result.reason}[/]")
        return
    console.print(
        f"[green]Scored {result.contacts_scored} contacts[/] ({result.defaults} without orders got the population's "
        f"values) in {result.seconds:.1f} s; {result.reason}"
    )
    for kind, count in result.written.items():
        console.print(f"  {kind}: {count} predictions, model version {result.versions[kind]}")


@intelligence_app.command("score")
def score(
    queue: bool = typer.Option(False, "--queue", help="Queue the job for a worker instead of running it here."),
    at: str = typer.Option("", "--at", help="Score as of this ISO time instead of now (UTC when no offset)."),
) -> None:
    """Train the models on the orders up to now and store every contact's predictions (the scheduler: daily)."""
    bootstrap()
    if queue:
        job_id = tasks.request_scoring()
        with db.session_scope() as session:  # as POST /api/v1/intelligence/score records it
            audit.record(session, actor=CLI_ACTOR, action="intelligence.score", target_type="job", target_id=job_id,
                         diff={})
        console.print(f"queued as job {job_id} (GET /api/v1/intelligence/score shows its state)")
        return
    now = datetime.fromisoformat(at) if at else None
    with db.session_scope() as session, console.status("training the models and scoring every contact"):
        result = scoring.score_contacts(session, now=now)
        audit.record(session, actor=CLI_ACTOR, action="intelligence.score", target_type="model_version",
                     target_id=result.versions.get("purchase_90d", ""),
                     diff={"path": result.path, "contacts": result.contacts_scored})  # fmt: skip
    print_result(result)
    with db.session_scope() as session, console.status("learning the chance to respond from past campaign texts"):
        response = response_scoring.score(session, now=now)  # its own transaction, as the daily job runs it
        audit.record(session, actor=CLI_ACTOR, action="intelligence.score", target_type="model_version",
                     target_id=response.version, diff={"kind": response_scoring.KIND, "scored": response.scored,
                                                       "contacts": response.written})  # fmt: skip
    if response.scored:
        console.print(f"[green]Chance to respond stored for {response.written} contacts[/] (model version "
                      f"{response.version}); {response.reason}")
    else:
        console.print(f"[yellow]Chance to respond not stored: {response.reason}[/]")


@intelligence_app.command("uplift")
def uplift() -> None:
    """Train the uplift model on past campaigns with a control group; store every contact's ``uplift``."""
    bootstrap()
    with db.session_scope() as session:
        verdict = uplift_targeting.score(session, now=utcnow())
        audit.record(session, actor=CLI_ACTOR, action="intelligence.uplift_score", target_type="model_version",
                     target_id=uplift_targeting.KIND, diff={"enabled": verdict.enabled, "reason": verdict.reason})
    if verdict.enabled:
        console.print(f"[green]Uplift stored for every contact[/]: {verdict.reason}")
    else:
        console.print(f"[yellow]Nothing stored: {verdict.reason}[/]")
