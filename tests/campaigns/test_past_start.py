"""A start that has passed is refused, by the REST API as by the console's wizard (campaigns.scheduling.passed).

Through ``POST /api/v1/campaigns/{id}/schedule`` a ``send_at`` in the past (a mistyped month: 2026-11-20 for
2026-12-20) was taken as "start now": the campaign was sent at once, with a 200, while the wizard refused it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from campaigns.scheduling import PAST_TOLERANCE, passed
from conversations.models import Message
from core import db
from core.db import utcnow
from tests.campaigns.factories import create_contact
from tests.helpers import auth_headers

ALL_DAY = {"quiet_start": "23:59", "quiet_end": "00:00", "respect_country_rules": False}
PARIS = ZoneInfo("Europe/Paris")


def _draft(client: TestClient, headers: dict[str, str], **extra: object) -> int:
    template = client.post("/api/v1/templates", headers=headers, json={"name": "t", "language": "en", "body": "Sale"})
    assert template.status_code == 201, template.text
    created = client.post("/api/v1/campaigns", headers=headers, json={
        "name": "sale", "template_id": template.json()["id"], "timezone": "Europe/Paris", **ALL_DAY, **extra})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _refused(answer: Response, field: str) -> str:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["detail"].startswith(f"{field}: this ")
    return str(problem["errors"][0]["message"])


def test_the_api_refuses_a_send_time_that_has_passed_and_sends_nothing(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    with db.session_scope() as session:
        create_contact(session, 1, timezone="Europe/Paris")
    campaign_id = _draft(app_client, headers)
    url = f"/api/v1/campaigns/{campaign_id}/schedule"

    # before: 200 and "running", the message queued at once, eleven days late
    late = utcnow() - timedelta(days=11)
    message = _refused(app_client.post(url, headers=headers, json={"send_at": late.isoformat()}), "send_at")
    assert message.startswith("this time has passed (today is ") and message.endswith("or send now (no send_at)")
    yesterday = (utcnow().astimezone(PARIS) - timedelta(days=1)).date().isoformat()
    message = _refused(app_client.post(url, headers=headers, json={"local_time": "10:00", "local_date": yesterday}),
                       "local_date")
    assert message.startswith("this day has passed (today is ") and "in Europe/Paris)" in message
    assert app_client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).json()["status"] == "draft"
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0

    # a time typed for the minute it is, confirmed a little later, is meant as now
    just = utcnow() - PAST_TOLERANCE + timedelta(seconds=30)
    started = app_client.post(url, headers=headers, json={"send_at": just.isoformat()})
    assert started.status_code == 200, started.text


def test_the_api_schedules_today_at_a_local_time_and_a_later_time(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    today = utcnow().astimezone(PARIS).date().isoformat()  # some zones have not reached the time yet
    local = app_client.post(f"/api/v1/campaigns/{_draft(app_client, headers)}/schedule", headers=headers,
                            json={"local_time": "23:30", "local_date": today})
    # accepted; it starts at once when the easternmost zones (UTC+14) have reached 23:30, else waits for them
    assert local.status_code == 200 and local.json()["local_date"] == today, local.text
    later = app_client.post(f"/api/v1/campaigns/{_draft(app_client, headers)}/schedule", headers=headers,
                            json={"send_at": (utcnow() + timedelta(hours=1)).isoformat()})
    assert later.status_code == 200 and later.json()["status"] == "scheduled", later.text


def test_the_api_refuses_to_schedule_a_best_time_window_that_is_over(app_client: TestClient) -> None:
    headers = auth_headers("marketer")
    over = utcnow().astimezone(PARIS).replace(tzinfo=None) - timedelta(days=1)
    window = {"start": (over - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"), "end": over.strftime("%Y-%m-%dT%H:%M")}
    campaign_id = _draft(app_client, headers, send_time=window)
    refused = app_client.post(f"/api/v1/campaigns/{campaign_id}/schedule", headers=headers, json={})
    assert _refused(refused, "send_time.end").startswith("this best-time window has passed (today is ")


def test_the_rule_and_its_words() -> None:
    now = datetime(2026, 12, 1, 9, 7, tzinfo=UTC)
    assert passed(datetime(2026, 11, 20, 10, 0, tzinfo=PARIS), now=now, tz=PARIS) == (
        "this time has passed (today is Tue 01 Dec 2026, 10:07 in Europe/Paris): choose a later one"
    )
    assert passed(now - PAST_TOLERANCE, now=now, tz=PARIS) == ""  # the edge of the tolerance is still now
    assert passed(now - PAST_TOLERANCE - timedelta(seconds=1), now=now, tz=PARIS) != ""
    assert passed(date(2026, 11, 30), now=now, tz=PARIS) == (
        "this day has passed (today is Tue 01 Dec 2026 in Europe/Paris): choose a later one"
    )
    assert passed(date(2026, 12, 1), now=now, tz=PARIS) == ""  # today: some recipients' zones are still before it
    # at 23:30 UTC on 30 November it is already 1 December in Paris: the day is read in the campaign's zone
    assert passed(date(2026, 11, 30), now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tz=PARIS) != ""
    assert passed(date(2026, 11, 30), now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC), tz=ZoneInfo("UTC")) == ""
