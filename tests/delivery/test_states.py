"""The delivery state machine, on SQLite and PostgreSQL: provider reports only move a message forward,
a sending row adopts the provider's id, a batch writes only what changed, ``message.status`` events
follow each change when someone subscribes, and concurrent batches neither deadlock nor lose a write."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from channels.base import DeliveryReport, DeliveryStatus
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message, MessageProviderId
from core import db
from core.models import WebhookDelivery, WebhookSubscription
from core.settings import Settings
from delivery import states

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _message(session: Session, *, status: str = "sent") -> Message:
    contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
    message = flows.queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="api")
    message.status = status
    if status == "sent":
        message.provider, message.provider_message_id = "vonage-sms", "P1"
    session.flush()
    return message


def report(status: DeliveryStatus, *, provider_id: str = "P1", client_ref: str | None = None) -> DeliveryReport:
    return DeliveryReport(
        provider="vonage-sms", provider_message_id=provider_id, status=status, occurred_at=NOW, client_ref=client_ref
    )


def test_reports_only_move_a_message_forward(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message = _message(session)
        states.apply_delivery_report(session, report=report("delivered"))
        states.apply_delivery_report(session, report=report("sent"))
        assert message.status == "delivered" and message.delivered_at is not None
        assert states.apply_delivery_report(session, report=report("delivered", provider_id="nope")) is None


def test_a_report_for_a_sending_row_adopts_the_provider_id(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message = _message(session, status="sending")
        found = states.apply_delivery_report(
            session, report=report("sent", provider_id="P9", client_ref=f"relais-{message.id}")
        )
        assert found is message
        assert (message.status, message.provider_message_id) == ("sent", "P9")


def _sent_rows(session: Session, count: int) -> list[int]:
    contact, _ = get_or_create_by_phone(session, phone_e164="+33612345678")
    ids = []
    for n in range(count):
        message = flows.queue_outbound(session, contact=contact, body="hi", lane="marketing", author_type="api")
        message.status, message.provider, message.provider_message_id = "sent", "vonage-sms", f"S{n}"
        session.flush()
        ids.append(message.id)
    return ids


def _updates_of_messages(statements: list[str]) -> int:
    return sum(s.lstrip().upper().startswith("UPDATE MESSAGES") for s in statements)


def test_a_batch_applies_its_reports_in_order_and_writes_only_what_changed(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        first, second = _sent_rows(session, 2)
        sending = _message(session, status="sending").id
    batch = [
        DeliveryReport(
            provider="vonage-sms", provider_message_id="S0", status="delivered", occurred_at=NOW, price_micros=33300
        ),
        DeliveryReport(provider="vonage-sms", provider_message_id="S0", status="sent", occurred_at=NOW),  # late
        DeliveryReport(
            provider="vonage-sms",
            provider_message_id="S1",
            status="failed",
            occurred_at=NOW,
            provider_status="failed",
            provider_code="6",
            description="absent subscriber",
        ),
        report("queued", provider_id="P7", client_ref=f"relais-{sending}"),  # adopted, moves to sent
        report("delivered", provider_id="P7", client_ref=f"relais-{sending}"),  # its later report, same batch
        report("delivered", provider_id="nope"),  # unknown: logged, skipped
    ]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        with db.session_scope() as session:
            assert states.apply_delivery_reports(session, batch) == [first, first, second, sending, sending, None]
        assert _updates_of_messages(statements) >= 1
        with db.session_scope() as session:
            rows = {m.id: m for m in session.scalars(select(Message))}
            assert (rows[first].status, rows[first].price_micros, rows[first].delivered_at) == ("delivered", 33300, NOW)
            assert (rows[second].status, rows[second].error_code, rows[second].error_reason) == (
                "failed",
                "6",
                "absent subscriber",
            )
            assert rows[second].delivered_at is None
            assert (rows[sending].status, rows[sending].provider_message_id) == ("delivered", "P7")
            assert rows[sending].sent_at == NOW
        statements.clear()
        with db.session_scope() as session:  # the provider's retries: nothing changes, nothing is written
            states.apply_delivery_reports(session, batch)
        assert _updates_of_messages(statements) == 0
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)


def test_a_provider_id_wins_over_a_client_ref_naming_another_message(runtime_any_db: Settings) -> None:
    """The batch locks every row a report names (provider id, part id or client-ref) but applies each
    report to one: its message by provider id first, by part id next, by client-ref last."""
    with db.session_scope() as session:
        named, referred, part_of = _sent_rows(session, 3)
        session.add(MessageProviderId(message_id=part_of, provider="vonage-sms", provider_message_id="S2-b"))
    batch = [
        report("delivered", provider_id="S0", client_ref=f"relais-{referred}"),  # S0 is named's own id
        report("failed", provider_id="S2-b", client_ref=f"relais-{referred}"),  # a part of part_of
        report("delivered", provider_id="nope", client_ref=f"relais-{referred}"),  # only the ref is known
    ]
    with db.session_scope() as session:
        assert states.apply_delivery_reports(session, batch) == [named, part_of, referred]
    with db.session_scope() as session:
        statuses = {message_id: status for message_id, status in session.execute(select(Message.id, Message.status))}
    assert (statuses[named], statuses[part_of], statuses[referred]) == ("delivered", "failed", "delivered")


def test_status_webhooks_go_out_for_each_change_and_only_when_subscribed(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        message_id = _message(session, status="sending").id
    adopt = report("queued", provider_id="P8", client_ref=f"relais-{message_id}")
    with db.session_scope() as session:  # nobody subscribes: no event
        states.apply_delivery_reports(session, [adopt])
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    with db.session_scope() as session:
        session.add(WebhookSubscription(url="https://hooks.example/a", event_types=["message.status"], secret="s"))
        session.add(WebhookSubscription(url="https://hooks.example/b", event_types=["*"], secret="s", active=False))
        session.add(WebhookSubscription(url="https://hooks.example/c", event_types=["message.received"], secret="s"))
    priced = DeliveryReport(
        provider="vonage-sms", provider_message_id="P8", status="sent", occurred_at=NOW, price_micros=500
    )  # a price, no move: no event
    failed = DeliveryReport(
        provider="vonage-sms",
        provider_message_id="P8",
        status="failed",
        occurred_at=NOW,
        provider_status="rejected",
        provider_code="4",
    )
    with db.session_scope() as session:
        states.apply_delivery_reports(
            session, [priced, report("unknown", provider_id="P8"), failed, report("delivered", provider_id="P8")]
        )
    with db.session_scope() as session:
        message = session.get_one(Message, message_id)
        deliveries = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        assert [d.payload["data"] for d in deliveries] == [
            {
                "id": message_id,
                "status": "unknown",
                "lane": "marketing",
                "contact_id": message.contact_id,
                "campaign_id": None,
                "provider_message_id": "P8",
                "error_code": None,
                "error_reason": None,
            },
            {
                "id": message_id,
                "status": "failed",
                "lane": "marketing",
                "contact_id": message.contact_id,
                "campaign_id": None,
                "provider_message_id": "P8",
                "error_code": "4",
                "error_reason": "rejected",
            },
        ]
        assert {d.event_type for d in deliveries} == {"message.status"}
        assert (message.status, message.price_micros) == ("failed", 500)


def test_concurrent_batches_neither_deadlock_nor_lose_an_update(runtime_any_db: Settings) -> None:
    """One thread delivers the rows in small batches, lowest id first, while another prices all of
    them in one batch, highest id first, round after round until the first is done: the rows are
    locked in id order before they are read, so neither waits on the other forever, and no write
    is lost or refused."""
    with db.session_scope() as session:
        ids = _sent_rows(session, 200)
    delivered = [
        DeliveryReport(provider="vonage-sms", provider_message_id=f"S{n}", status="delivered", occurred_at=NOW)
        for n in range(len(ids))
    ]
    failures: list[BaseException] = []
    rounds: list[int] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        for first in range(0, len(delivered), 10):
            with db.session_scope() as session:
                states.apply_delivery_reports(session, delivered[first : first + 10])

    def price(delivering: threading.Thread) -> None:
        start.wait()
        while delivering.is_alive() or len(rounds) < 3:
            priced = [
                DeliveryReport(
                    provider="vonage-sms",
                    provider_message_id=f"S{n}",
                    status="sent",
                    occurred_at=NOW,
                    price_micros=700 + len(rounds),
                )
                for n in reversed(range(len(ids)))
            ]
            with db.session_scope() as session:
                states.apply_delivery_reports(session, priced)
            rounds.append(len(rounds))

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # asserted below
                failures.append(exc)

        return run

    delivering = threading.Thread(target=guarded(deliver))
    pricing = threading.Thread(target=guarded(lambda: price(delivering)))
    for thread in (delivering, pricing):
        thread.start()
    for thread in (delivering, pricing):
        thread.join(timeout=120)
    assert not delivering.is_alive() and not pricing.is_alive()
    assert failures == []
    with db.session_scope() as session:
        rows = session.execute(
            select(Message.status, Message.price_micros, Message.delivered_at).where(Message.id.in_(ids))
        ).all()
    assert {(status, price, at) for status, price, at in rows} == {("delivered", 700 + rounds[-1], NOW)}


def test_a_row_written_behind_its_lock_fails_the_batch_rather_than_being_overwritten(
    runtime_any_db: Settings,
) -> None:
    with db.session_scope() as session:
        message_id = _message(session).id
    with db.session_scope() as session:
        [row] = states._lock(session, [report("delivered")])[0].values()
        seen = {message_id: row.written()}
        assert states._apply(row, report("delivered"))
        session.execute(update(Message).where(Message.id == message_id).values(status="failed"))
        with pytest.raises(states.StaleRead):
            states._write(session, [row], seen)
        session.rollback()
