"""A text scheduled through the API (``send_at``) goes at its time and not before, whatever wakes the engine
earlier; until a worker claims it, it can be cancelled, and a cancelled text never goes.

Before, ``POST /api/v1/messages`` refused ``send_at`` (unknown field) and had no way to take back a text that
waits: an integrator's reminder for tomorrow needed its own scheduler. Driven through the API, the real engine
sending to a loopback HTTPS "Vonage", the recovery sweep and the test's clock; SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from channels.senders import create_sender, set_account_rate
from conversations.models import Message
from core import db
from core.db import utcnow
from core.redis import get_redis
from core.settings import Settings
from delivery import recovery
from tests.channels.fakes.vonage_server import FakeVonage
from tests.delivery.test_throttle import Clock, engine_for
from tests.helpers import auth_headers

TO = "+33612345678"


@pytest.fixture
def api(runtime_any_db: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with db.session_scope() as session:
        create_sender(session, kind="long_code", address="+33612000000", throughput=2000)
        set_account_rate(session, name="default", throughput=2000)
    with TestClient(create_app(runtime_any_db)) as client:
        yield client


def _schedule(api: TestClient, at: datetime, headers: dict[str, str] | None = None) -> dict:
    """A reminder scheduled at ``at`` by a marketer's key (``headers``: that key, to act on it later)."""
    response = api.post("/api/v1/messages", headers=headers or auth_headers("marketer"),
                        json={"to": TO, "body": "Rappel : votre rendez-vous demain à 10 h",
                              "send_at": at.isoformat()})  # fmt: skip
    assert response.status_code == 202, response.text
    return response.json()


def _row(message_id: int) -> Message:
    with db.session_scope() as session:
        row = session.get(Message, message_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_scheduled_text_goes_at_its_time_and_no_sweep_or_early_wake_sends_it_before(
    api: TestClient, fake: FakeVonage, runtime_any_db: Settings
) -> None:
    clock = Clock()
    at = (clock.now + timedelta(hours=2)).replace(microsecond=0)
    sent = _schedule(api, at)
    assert sent["status"] == "queued" and sent["wait_reason"] == "scheduled"
    assert datetime.fromisoformat(sent["not_before"]) == at
    assert "Europe/Paris" in sent["wait_detail"]  # said in the recipient's zone
    engine = engine_for(fake, runtime_any_db, clock)
    client = get_redis(runtime_any_db)

    for later in (timedelta(minutes=10), timedelta(minutes=90), timedelta(hours=2) - timedelta(seconds=1)):
        clock.now = at - timedelta(hours=2) + later
        recovery.recover(client, now=clock.now)  # the sweep, past its lease: nothing to release
        assert engine.send_batch([sent["id"]]).sent == 0  # a wake-up before the time sends nothing
        assert _row(sent["id"]).status == "queued" and fake.requests == []

    clock.now = at + timedelta(seconds=1)
    assert engine.send_batch([sent["id"]]).sent == 1
    assert _row(sent["id"]).status == "sent" and len(fake.requests) == 1


def test_a_waiting_text_can_be_cancelled_once_and_then_never_goes(
    api: TestClient, fake: FakeVonage, runtime_any_db: Settings
) -> None:
    clock = Clock()
    at = clock.now + timedelta(hours=1)
    headers = auth_headers("marketer")  # a key sees what it sent (conversations.visibility)
    sent = _schedule(api, at, headers)

    cancelled = api.post(f"/api/v1/messages/{sent['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["error_code"]) == ("rejected", "cancelled")
    again = api.post(f"/api/v1/messages/{sent['id']}/cancel", headers=headers)
    assert again.status_code == 409 and "rejected" in again.json()["detail"]

    clock.now = at + timedelta(minutes=30)
    recovery.recover(get_redis(runtime_any_db), now=clock.now)
    assert engine_for(fake, runtime_any_db, clock).send_batch([sent["id"]]).sent == 0
    assert _row(sent["id"]).status == "rejected" and fake.requests == []
    audit = api.get("/api/v1/audit", headers=auth_headers("admin")).json()["items"]
    assert any(e["action"] == "message.cancel" and e["target_id"] == str(sent["id"]) for e in audit), audit


def test_a_text_that_went_cannot_be_cancelled_and_an_analyst_may_not_cancel(
    api: TestClient, fake: FakeVonage, runtime_any_db: Settings
) -> None:
    clock = Clock()
    headers = auth_headers("marketer")
    sent = _schedule(api, clock.now + timedelta(minutes=1), headers)
    assert api.post(f"/api/v1/messages/{sent['id']}/cancel", headers=auth_headers("analyst")).status_code == 403
    clock.now += timedelta(minutes=2)
    assert engine_for(fake, runtime_any_db, clock).send_batch([sent["id"]]).sent == 1
    refused = api.post(f"/api/v1/messages/{sent['id']}/cancel", headers=headers)
    assert refused.status_code == 409 and "sent" in refused.json()["detail"]


def test_a_send_at_that_could_never_be_kept_is_refused_naming_the_field(api: TestClient) -> None:
    now = utcnow()
    headers = auth_headers("marketer")
    cases = {
        "past": {"send_at": (now - timedelta(hours=1)).isoformat()},
        "too_far": {"send_at": (now + timedelta(days=36)).isoformat()},
        "before_send_at": {"send_at": (now + timedelta(hours=2)).isoformat(),
                           "expires_at": (now + timedelta(hours=1)).isoformat()},
    }  # fmt: skip
    for reason, fields in cases.items():
        response = api.post("/api/v1/messages", headers=headers, json={"to": TO, "body": "hi", **fields})
        assert response.status_code == 422, (reason, response.text)
        assert response.json()["errors"][0]["reason"] == reason
    # typed for the minute it still is: sent now, not refused
    now_ish = api.post("/api/v1/messages", headers=headers,
                       json={"to": TO, "body": "hi", "send_at": (now - timedelta(minutes=1)).isoformat()})  # fmt: skip
    assert now_ish.status_code == 202 and now_ish.json()["not_before"] is None
