"""Two requests with one ``Idempotency-Key`` at the same time get the same message, never a 500.

Real concurrency on SQLite and PostgreSQL: the first request's transaction is held open (the
same domain call the route makes) while the second, in another thread, passes the key look-up
and waits on the database for the insert; the first then commits. Before the fix the second
failed on the unique key (500).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from api.app import create_app
from conversations import flows
from conversations.models import Message
from core import db
from core.models import ApiKey
from core.settings import Settings
from tests.helpers import create_api_key

PAYLOAD = {"to": "+33612345670", "body": "Your code is 4821", "lane": "transactional"}


@pytest.fixture
def client(runtime_any_db: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(runtime_any_db)) as test_client:
        yield test_client


def _api_key(client: TestClient) -> tuple[dict[str, str], int]:
    secret = create_api_key("agent", name="race")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/messages", headers=headers).status_code == 200  # last_used_at written now
    with db.session_scope() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "race"))
    assert key_id is not None
    return headers, key_id


def _wait_until_blocked(settings: Settings, worker: threading.Thread) -> None:
    """Until the request waits on the first transaction's lock (PostgreSQL says so; SQLite
    cannot, so give it the time to reach its insert: it cannot finish before the commit)."""
    if not settings.resolved_database_url.startswith("postgresql"):
        time.sleep(1.0)
        assert worker.is_alive(), "the request did not wait for the first transaction"
        return
    deadline = time.monotonic() + 20
    with db.engine().connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )).scalar()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the second request never waited for the first one's insert")


def test_a_request_racing_an_uncommitted_one_with_the_same_key_gets_its_message(
    client: TestClient, runtime_any_db: Settings
) -> None:
    headers, key_id = _api_key(client)
    first = db.new_session()
    try:
        winner, created = flows.send_api_message(
            first, to=PAYLOAD["to"], body=PAYLOAD["body"], lane="transactional", author_type="api",
            author_id="race", region="FR", idempotency_key=f"api_key:{key_id}:order-77",
        )
        assert created
        answers: list[httpx.Response] = []
        second = threading.Thread(target=lambda: answers.append(
            client.post("/api/v1/messages", json=PAYLOAD, headers={**headers, "Idempotency-Key": "order-77"})
        ))
        second.start()
        _wait_until_blocked(runtime_any_db, second)
        first.commit()
    finally:
        first.close()
    second.join(30)
    assert len(answers) == 1
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["id"] == winner.id
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_concurrent_requests_with_one_key_all_get_the_same_message(client: TestClient) -> None:
    headers, _ = _api_key(client)
    headers = {**headers, "Idempotency-Key": "order-78"}
    start = threading.Barrier(6)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        response = client.post("/api/v1/messages", json=PAYLOAD, headers=headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.status_code for r in answers) == [200] * 5 + [202], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_same_key_for_another_message_is_still_a_conflict_after_a_race(
    client: TestClient, runtime_any_db: Settings
) -> None:
    headers, key_id = _api_key(client)
    first = db.new_session()
    try:
        flows.send_api_message(
            first, to=PAYLOAD["to"], body="another text", lane="transactional", author_type="api",
            author_id="race", region="FR", idempotency_key=f"api_key:{key_id}:order-79",
        )
        answers: list[httpx.Response] = []
        second = threading.Thread(target=lambda: answers.append(
            client.post("/api/v1/messages", json=PAYLOAD, headers={**headers, "Idempotency-Key": "order-79"})
        ))
        second.start()
        _wait_until_blocked(runtime_any_db, second)
        first.commit()
    finally:
        first.close()
    second.join(30)
    assert [r.status_code for r in answers] == [409]
