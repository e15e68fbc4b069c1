"""Erasure is complete: after erasing a contact who texted (a concatenated text with a part never
joined, the simulator), received a text through the simulator, a campaign's text and an agent's
note, neither the database (every table, every column, read raw: no decryption) nor Redis (every
key and value) holds the number or a text, and the blind index survives only in the tombstone."""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from channels.base import ConcatInfo, InboundMessage
from contacts import service
from conversations import flows
from conversations.models import Conversation, Message
from core import db, webhooks
from core.crypto import blind_index
from core.db import utcnow
from core.schema import load_models
from core.settings import Settings
from handoff.models import Note
from tests.campaigns.factories import create_campaign, create_template
from tests.helpers import auth_headers
from workers.delivery import runtime as delivery_runtime
from workers.delivery.ingest import ingest_inbound
from workers.jobs.send import apply_simulator_reports, send_messages

NUMBER = "+33612345679"
NUMBER_FORMS = (NUMBER, NUMBER[1:], "0612345679", "612345679", "06 12 34 56 79")
SIMULATED = "Quokka-simulated: where is parcel 5521"
PARTS = ("Quokka-part-one about my knee surgery ", "Quokka-part-two at the Lyon clinic ", "Quokka-part-three")
ORPHAN = "Quokka-orphan: the part whose siblings never came"
SENT = "Quokka-sent: your order 20% off is on its way"
CAMPAIGN = "Quokka-campaign: new collection for you"
NOTE = "Quokka-note: prefers calls after six"
TEXTS = (SIMULATED, *PARTS, ORPHAN, SENT, CAMPAIGN, NOTE)
# tables that keep the blind index on purpose: the tombstone proving the opt-out (contacts.consent)
TOMBSTONE_COLUMNS = {("consent_events", "phone_index"), ("suppressions", "phone_index")}


@pytest.fixture
def client(runtime_any_db: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(runtime_any_db)) as test_client:
        yield test_client


def _stage(inbound: InboundMessage) -> int | None:
    with db.session_scope() as session:
        event_id = flows.stage_inbound(session, inbound=inbound, channel="simulator")
    assert event_id is not None
    return ingest_inbound(event_id)


def _part(ref: str, part: int, total: int, text: str) -> InboundMessage:
    return InboundMessage(
        provider="simulator",
        provider_message_id=f"{ref}-{part}",
        from_=NUMBER,
        to="+33700000000",
        text=text,
        received_at=utcnow(),
        concat=ConcatInfo(ref=ref, part=part, total=total),
    )


def _person_everywhere(client: TestClient) -> int:
    marketer = auth_headers("marketer")
    contact = client.post(
        "/api/v1/contacts",
        headers=marketer,
        json={"phone": NUMBER, "name": "Quokka Person", "consent": {"action": "opt_in", "source": "form"}},
    ).json()
    with db.session_scope() as session:
        webhooks.create_subscription(session, url="https://hooks.example.invalid/h", event_types=["*"])
    texted = client.post("/api/v1/simulator/inbound", json={"from": NUMBER, "body": SIMULATED, "id": "sim-q1"})
    assert texted.status_code == 202
    assert ingest_inbound(texted.json()["event_id"]) is not None
    joined = [_stage(_part("c1", n, 3, text)) for n, text in enumerate(PARTS, start=1)]
    assert joined[:2] == [None, None] and joined[2] is not None  # only the last part links to the message
    assert _stage(_part("c2", 1, 3, ORPHAN)) is None  # its other parts never come
    # sent now on the transactional lane; the campaign's text waits for its send window (it depends
    # on the clock: no Sunday sends in France), stored all the same
    sent = client.post("/api/v1/messages", headers=marketer, json={"to": NUMBER, "body": SENT, "lane": "transactional"})
    assert sent.status_code == 202, sent.text
    assert send_messages([sent.json()["id"]])["claimed"] == 1
    delivery_runtime.flush()  # on PostgreSQL the job returns while the lanes send
    with db.session_scope() as session:
        assert session.get(Message, sent.json()["id"]).status == "sent"  # type: ignore[union-attr]
    apply_simulator_reports()
    with db.session_scope() as session:
        campaign = create_campaign(session, create_template(session))  # its own text is not personal
        flows.queue_outbound(session, contact=service.get(session, contact["id"]), body=CAMPAIGN, lane="marketing",
                             author_type="campaign", campaign_id=campaign.id)
        conversation_id = session.scalar(select(Conversation.id).where(Conversation.contact_id == contact["id"]))
        session.add(Note(conversation_id=conversation_id, body=NOTE))
        bodies = set(session.scalars(select(Message.body).where(Message.contact_id == contact["id"])))
    assert bodies == {SIMULATED, "".join(PARTS), SENT, CAMPAIGN}
    return int(contact["id"])


def _database_rows() -> Iterator[tuple[str, str, str]]:
    """(table, column, value as text) for every non-null cell of every table, read raw."""
    metadata = load_models()
    with db.engine().connect() as conn:
        for table in metadata.sorted_tables:
            # raw column values: the table's own types would decrypt the encrypted columns
            columns: list[Any] = [sa.literal_column(f'"{c.name}"') for c in table.columns]
            raw = sa.select(*columns).select_from(sa.table(table.name))
            for row in conn.execute(raw):
                for column, value in zip(table.columns, row, strict=True):
                    if value is not None:
                        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                        yield table.name, column.name, text


def _redis_values(client: Any) -> Iterator[tuple[str, str]]:
    """(key, value as text) for every key and value of this Redis database (RQ's compressed job data opened)."""

    def text(raw: Any) -> str:
        if isinstance(raw, str):
            return raw
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        return raw.decode("utf-8", "replace")

    for key in client.scan_iter(count=500):
        name = key.decode("utf-8", "replace")
        yield name, name
        kind = str(text(client.type(key)))
        values: list[Any] = []
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = list(client.zrange(key, 0, -1))
        elif kind == "stream":
            values = [str(entry) for entry in client.xrange(key) or []]
        for value in values:
            yield name, text(value)


def test_erasure_leaves_no_number_or_text_in_the_database_or_redis(
    client: TestClient, runtime_any_db: Settings
) -> None:
    contact_id = _person_everywhere(client)
    redis = redis_lib.Redis.from_url(str(runtime_any_db.redis_url))
    index = blind_index(NUMBER)
    before = list(_redis_values(redis))
    assert any(NUMBER in value for _, value in before), "the scan must see the simulator's inbox"
    assert any(index in value for *_, value in _database_rows())

    erased = client.delete(f"/api/v1/contacts/{contact_id}", headers=auth_headers("admin"), params={"erase": "true"})
    assert erased.status_code == 200, erased.text
    counts = erased.json()["erased"]
    assert counts["inbound_parts"] == 4 and counts["simulator_messages"] >= 1  # 3 joined parts + the orphan

    needles = (*NUMBER_FORMS, *TEXTS, *(json.dumps(t)[1:-1] for t in TEXTS))
    found_in_db = [(t, c, n) for t, c, v in _database_rows() for n in needles if n in v]
    assert found_in_db == []
    index_left = {(t, c) for t, c, v in _database_rows() if index in v}
    assert index_left <= TOMBSTONE_COLUMNS and index_left, index_left
    found_in_redis = [(k, n) for k, v in _redis_values(redis) for n in (*needles, index) if n in v]
    assert found_in_redis == []
    inbox = client.get("/api/v1/simulator/messages", params={"phone": NUMBER}, headers=auth_headers("admin"))
    assert inbox.status_code == 200 and inbox.json() == []


def test_erasure_wipes_import_rows_that_hold_the_number_in_any_spelling(runtime: Settings) -> None:
    from api.privacy import erase_person
    from contacts.models import Contact, ContactImport, ContactImportProblem
    from core.audit import Actor

    with db.session_scope() as session:
        contact, _ = service.get_or_create_by_phone(session, phone_e164="+33612345678", country="FR")
        job = ContactImport(format="csv", filename="clients.csv")
        session.add(job)
        session.flush()
        session.add_all([
            ContactImportProblem(import_id=job.id, row=2, severity="error", code="duplicate",
                                 cells=["06 12 34 56 78", "Zoé", "zoe@example.com"]),
            ContactImportProblem(import_id=job.id, row=3, severity="warning", code="landline",
                                 cells=["01 42 72 00 00", "Paul", ""]),
        ])
        session.flush()
        counts = erase_person(session, session.get_one(Contact, contact.id), actor=Actor("user", "1"))
        assert counts["import_rows"] == 1
    with db.session_scope() as session:
        cells = [p.cells for p in session.scalars(select(ContactImportProblem).order_by(ContactImportProblem.row))]
    assert cells == [None, ["01 42 72 00 00", "Paul", ""]]
