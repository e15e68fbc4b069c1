"""The state machine of an outbound message, and the provider's delivery reports that drive it.

``queued`` (waiting for its planned time; see :mod:`delivery.authority`) → ``sending`` (claimed by
a worker, see :func:`delivery.store.claim`) → ``sent`` (the provider accepted it) → ``delivered``
or ``failed`` by delivery report. Without a send: ``rejected`` (consent, campaign cancelled, cap),
``expired`` (past ``expires_at``), ``dead`` (retries or senders exhausted). A retry or a wait puts
a claimed row back to ``queued``.

Reports can arrive late and out of order, so a later state always wins: :data:`RANK` stops a
late "sent" from moving a ``delivered`` message backwards.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from channels.base import DeliveryReport
from conversations import service
from conversations.models import Message
from core import webhooks

log = structlog.get_logger("relais.delivery")

#: Later states win; a report never moves a message backwards (a late "sent" after "delivered").
RANK = {
    "queued": 0,
    "accepted": 0,
    "sending": 1,
    "sent": 2,
    "dead": 2,  # we gave up, but the provider may still prove it went out
    "unknown": 3,
    "delivered": 4,
    "failed": 4,
    "rejected": 4,
    "expired": 4,
}
_FAILED = frozenset({"failed", "rejected", "expired"})


def status_event(message: Message) -> dict[str, Any]:
    """The ``message.status`` webhook payload (no personal data)."""
    return {
        "id": message.id,
        "status": message.status,
        "lane": message.lane,
        "contact_id": message.contact_id,
        "campaign_id": message.campaign_id,
        "provider_message_id": message.provider_message_id,
        "error_code": message.error_code or None,
        "error_reason": message.error_reason or None,
    }


def apply_delivery_report(session: Session, *, report: DeliveryReport) -> Message | None:
    """Record a provider's news about a sent message; ``None`` when no message matches.

    A report for a message still ``sending`` (its worker died, or the send timed out) proves the
    provider took it: the provider id is adopted so recovery never sends it again.
    """
    message = service.find_for_report(session, report)
    if message is None:
        log.info("delivery report for an unknown message", provider=report.provider, ref=report.client_ref)
        return None
    if not message.provider_message_id or message.status == "sending":
        message.provider = report.provider
        message.provider_message_id = message.provider_message_id or report.provider_message_id
        message.sent_at = message.sent_at or report.occurred_at
    if report.price_micros is not None:
        message.price_micros = report.price_micros
    new = "sent" if report.status == "queued" else report.status
    if RANK[new] > RANK.get(message.status, 0):
        message.status = new
        if new == "delivered":
            message.delivered_at = report.occurred_at
        if new in _FAILED:
            message.error_code = (report.provider_code or report.provider_status)[:40]
            message.error_reason = (report.description or report.provider_status)[:500]
        session.flush()
        webhooks.emit(session, "message.status", status_event(message))
    session.flush()
    return message
