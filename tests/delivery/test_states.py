"""The delivery state machine: provider reports only move a message forward, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from channels.base import DeliveryReport, DeliveryStatus
from contacts.service import get_or_create_by_phone
from conversations import flows
from conversations.models import Message
from core import db
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
