"""Failed background jobs: described in words, listed for admins in the console and the API, retried or
discarded with the CSRF header and audited; the attempt history a dead letter carries."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import db, poison
from core.failed_jobs import Subject, describe
from core.models import AuditEntry
from core.queue import JobSpec, RetryPolicy, enqueue, get_queue
from core.redis import get_redis
from core.settings import Settings
from tests.console.helpers import create_console_user, escalated_conversation, log_in
from tests.helpers import auth_headers, run_jobs

HTML = {"Accept": "text/html,application/xhtml+xml"}
PREPARE = JobSpec(func="campaigns.tasks.prepare_campaign", args=(7,), job_id="campaign-prepare:7:1:main",
                  queue="marketing", retry=RetryPolicy(max=1, intervals=(0,)))


def _database_gone(*_: Any, **__: Any) -> None:
    raise RuntimeError("could not connect to server: the database went away")


def _job(page: str, job_id: str) -> str:
    return page.split(f'data-job="{job_id}"', 1)[1].split("</li>", 1)[0]


def _audited(job_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    with db.session_scope() as session:
        entries = select(AuditEntry).where(AuditEntry.target_type == "job", AuditEntry.target_id == job_id)
        rows = session.scalars(entries)
        return [(e.action, e.diff) for e in rows]


@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        ("workers.jobs.send.send_messages", [[42]], Subject("Send message 42", "message", (42,))),
        ("workers.jobs.send.send_messages", [[1, 2, 3, 4, 5, 6]],
         Subject("Send 6 messages (1, 2, 3, 4, 5, …)", "message", (1, 2, 3, 4, 5, 6))),
        ("workers.jobs.inbound.process_inbound", [17], Subject("Read and answer inbound message 17", "message", (17,))),
        ("campaigns.tasks.prepare_campaign", [7], Subject("Prepare the recipients of campaign 7", "campaign", (7,))),
        ("contacts.tasks.run_import", [5], Subject("Run contact import 5", "import", (5,))),
        ("core.tasks.deliver_webhook", [9], Subject("Post webhook delivery 9", "webhook_delivery", (9,))),
        ("handoff.tasks.check_sla", [], Subject("Check the escalations' SLA deadlines (every 30 s)")),
        ("shop.tasks.reindex", ["all", 3], Subject("shop.tasks.reindex('all', 3)")),
        ("contacts.tasks.run_import", ["x"], Subject("contacts.tasks.run_import('x')")),
    ],
)
def test_a_job_is_described_by_its_subject(func: str, args: list[Any], expected: Subject) -> None:
    assert describe(func, args) == expected


def test_admin_retries_a_failed_campaign_preparation_from_the_console(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import campaigns.tasks

    with monkeypatch.context() as broken:
        broken.setattr(campaigns.tasks, "prepare_campaign", _database_gone)
        enqueue(PREPARE)
        run_jobs()  # the first try and its one retry fail
    _, secret = create_console_user("ops@example.com", role="admin")
    csrf = log_in(app_client, "ops@example.com", secret)

    page = app_client.get("/console/jobs", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'href="/console/jobs" aria-current="page"' in page.text
    assert "1 failed job</h2>" in page.text
    job = _job(page.text, "campaign-prepare-7-1-main")
    assert '<a href="/console/campaigns/7">Prepare the recipients of campaign 7</a>' in job
    assert "RuntimeError: could not connect to server: the database went away" in job
    assert '<dd data-figure="runs">2</dd>' in job and "dead letter" not in job
    assert "on the marketing queue" in job and "<summary>Traceback</summary>" in job
    assert 'aria-label="Retry: Prepare the recipients of campaign 7"' in job

    htmx = {"HX-Request": "true"}
    assert app_client.post("/console/jobs/campaign-prepare-7-1-main/retry", headers=htmx).status_code == 403  # no CSRF
    done = app_client.post("/console/jobs/campaign-prepare-7-1-main/retry", headers={**htmx, "X-CSRF-Token": csrf})
    assert done.status_code == 200, done.text
    assert "Job campaign-prepare-7-1-main is queued to run again." in done.text and "0 failed jobs</h2>" in done.text
    assert get_queue("marketing").count == 1
    run_jobs()  # the database is back: the preparation finds no campaign 7 and ends
    assert "No failed job" in app_client.get("/console/jobs", headers=HTML).text
    assert _audited("campaign-prepare-7-1-main") == [("job.requeue", {"about": "Prepare the recipients of campaign 7"})]
    missing = app_client.post("/console/jobs/campaign-prepare-7-1-main/retry", headers={**htmx, "X-CSRF-Token": csrf})
    assert missing.status_code == 404


def test_admin_discards_a_failed_inbound_job_linked_to_its_conversation(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.jobs.inbound

    conversation_id = escalated_conversation("+33611115501", "Where is my parcel?")
    with db.session_scope() as session:
        from conversations.models import Message

        message_id = session.scalars(select(Message.id).where(Message.conversation_id == conversation_id)).one()
    monkeypatch.setattr(workers.jobs.inbound, "process_inbound", _database_gone)
    enqueue(JobSpec(func="workers.jobs.inbound.process_inbound", args=(message_id,), job_id=f"inbound:{message_id}",
                    queue="inbound", retry=RetryPolicy(max=0, intervals=())))
    run_jobs()
    _, secret = create_console_user("ops@example.com", role="admin")
    csrf = log_in(app_client, "ops@example.com", secret)

    job_id = f"inbound-{message_id}"
    job = _job(app_client.get("/console/jobs", headers=HTML).text, job_id)
    about = f"Read and answer inbound message {message_id}"
    assert f'<a href="/console/conversations/{conversation_id}">{about}</a>' in job
    assert '<dd data-figure="runs">1</dd>' in job

    listed = app_client.get("/api/v1/jobs/failed", headers=auth_headers("admin")).json()
    assert [(j["id"], j["about"], j["subject_kind"], j["subject_ids"], j["runs"], j["dead_lettered"])
            for j in listed] == [(job_id, about, "message", [message_id], 1, False)]

    done = app_client.post(f"/console/jobs/{job_id}/discard", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert done.status_code == 200 and f"Job {job_id} is discarded." in done.text and "No failed job" in done.text
    assert app_client.get("/api/v1/jobs/failed", headers=auth_headers("admin")).json() == []
    assert get_queue("inbound").count == 0  # discarded, not run
    assert _audited(job_id) == [("job.discard", {"about": about})]
    again = app_client.delete(f"/api/v1/jobs/failed/{job_id}", headers=auth_headers("admin"))
    assert again.status_code == 404


def test_failed_jobs_are_for_admins_only(app_client: TestClient) -> None:
    _, secret = create_console_user("ana@example.com", role="analyst")
    log_in(app_client, "ana@example.com", secret)
    page = app_client.get("/console/jobs", headers=HTML)
    assert page.status_code == 403 and "This page is not part of your role" in page.text
    assert "/console/jobs" not in app_client.get("/console/qa", headers=HTML).text  # not in their navigation
    for role in ("agent", "marketer", "analyst"):
        assert app_client.get("/api/v1/jobs/failed", headers=auth_headers(role)).status_code == 403
        assert app_client.delete("/api/v1/jobs/failed/x", headers=auth_headers(role)).status_code == 403


def test_the_api_discards_a_failed_job_and_audits_it(app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import campaigns.tasks

    monkeypatch.setattr(campaigns.tasks, "prepare_campaign", _database_gone)
    enqueue(PREPARE)
    run_jobs()
    admin = auth_headers("admin")
    assert app_client.delete("/api/v1/jobs/failed/campaign-prepare:7:1:main", headers=admin).status_code == 204
    assert app_client.get("/api/v1/jobs/failed", headers=admin).json() == []
    assert [action for action, _ in _audited("campaign-prepare-7-1-main")] == ["job.discard"]


def test_a_dead_letter_counts_the_runs_it_had(runtime: Settings) -> None:
    client = get_redis(runtime)
    for _ in range(3):
        poison.record_start(client, "send-9")
    poison.record_end(client, "send-9", succeeded=False)
    assert poison.history(client, "send-9") == poison.Attempts(starts=3, failures=1)
    retired = poison.record_start(client, "send-9")
    assert retired.verdict() is None  # 3 starts, 1 failure: 2 deaths, not yet 3
    assert poison.record_start(client, "send-9").verdict() == "dead-lettered: killed or froze its worker 3 times"
    poison.mark_dead(client, "send-9")
    counted = poison.history(client, "send-9")
    assert counted is not None and counted.dead and counted.runs == 4  # the retiring start never ran
    assert poison.history(client, "send-10") is None
