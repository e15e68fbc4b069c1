"""Personal data is encrypted at rest: after a person texted in (an MMS through the simulator) and was texted back
with an attachment, no column of any table, read raw (no decryption), holds the number or what was said, sent or
attached, except the columns that hold it on purpose."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.api.test_erasure import NUMBER, NUMBER_FORMS, TEXTS, _database_rows, _person_everywhere
from tests.helpers import auth_headers
from workers.delivery.ingest import ingest_inbound

# a provider's media address carries an access token; captions and file names are what the person sent
TOKEN_URL = "https://media.provider.example/v3/media/Quokka-mms-1?token=Quokka-secret-token"
CAPTION = "Quokka-caption: photo of my broken lamp"
SENT_URL = "https://cdn.example/Quokka-receipt-5521.jpg"


@pytest.fixture
def client(runtime_any_db: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(runtime_any_db)) as test_client:
        yield test_client


def test_nothing_said_sent_or_attached_is_stored_in_clear(client: TestClient) -> None:
    _person_everywhere(client)
    mms = client.post("/api/v1/simulator/inbound", json={
        "from": NUMBER, "body": "", "id": "sim-mms", "media": [
            {"url": TOKEN_URL, "content_type": "image/jpeg", "caption": CAPTION, "size": 1000}]})
    assert mms.status_code == 202, mms.text
    assert ingest_inbound(mms.json()["event_id"]) is not None
    sent = client.post("/api/v1/messages", headers=auth_headers("marketer"), json={
        "to": NUMBER, "body": "", "lane": "transactional",
        "media": [{"url": SENT_URL, "content_type": "image/jpeg"}]})
    assert sent.status_code == 202, sent.text

    needles = (*NUMBER_FORMS, *TEXTS, *(json.dumps(t)[1:-1] for t in TEXTS), TOKEN_URL, "Quokka-secret-token",
               CAPTION, SENT_URL)
    found = sorted({(t, c, n) for t, c, v in _database_rows() for n in needles if n in v})
    assert found == []
