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

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, defer

from channels.base import DeliveryReport
from conversations import service
from conversations.models import Message, MessageProviderId
from core import webhooks
from core.models import WebhookSubscription

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
    return apply_delivery_reports(session, [report])[0]


def apply_delivery_reports(session: Session, reports: Sequence[DeliveryReport]) -> list[Message | None]:
    """:func:`apply_delivery_report` for many reports in one transaction, in order: three indexed
    lookups and one row lock per batch instead of per report (the API and the report job take
    thousands a second during a campaign). Returns the message of each report, or ``None``."""
    found = _find(session, reports)
    emit = has_status_subscribers(session) if found else False
    matched: list[Message | None] = []
    for report in reports:
        message = found.get(id(report))
        if message is None:
            log.info("delivery report for an unknown message", provider=report.provider, ref=report.client_ref)
        elif _apply(message, report) and emit:
            session.flush()
            webhooks.emit(session, "message.status", status_event(message))
        matched.append(message)
    session.flush()
    return matched


def _find(session: Session, reports: Sequence[DeliveryReport]) -> dict[int, Message]:
    """The outbound message of each report (keyed by ``id(report)``): by provider id, by part id, else by
    client_ref, as :func:`conversations.service.find_for_report`; rows locked in id order (no deadlock
    between two batches)."""
    by_provider: dict[str, set[str]] = defaultdict(set)
    for report in reports:
        by_provider[report.provider].add(report.provider_message_id)
    ids: dict[tuple[str, str], int] = {}
    for provider, provider_ids in by_provider.items():
        ids.update(((provider, str(pid)), mid) for mid, pid in session.execute(
            select(Message.id, Message.provider_message_id).where(
                Message.provider == provider, Message.provider_message_id.in_(provider_ids),
                Message.direction == "out")))
        parts = [p for p in provider_ids if (provider, p) not in ids]
        if parts:
            ids.update(((provider, pid), mid) for mid, pid in session.execute(
                select(MessageProviderId.message_id, MessageProviderId.provider_message_id).where(
                    MessageProviderId.provider == provider, MessageProviderId.provider_message_id.in_(parts))))
    chosen = {id(r): ids.get((r.provider, r.provider_message_id)) or service.message_id_from_ref(r.client_ref)
              for r in reports}
    wanted_ids = sorted({m for m in chosen.values() if m is not None})
    if not wanted_ids:
        return {}
    rows = {m.id: m for m in session.scalars(
        select(Message).where(Message.id.in_(wanted_ids), Message.direction == "out")
        .options(defer(Message.body), defer(Message.analysis)).order_by(Message.id).with_for_update())}
    return {key: rows[mid] for key, mid in chosen.items() if mid is not None and mid in rows}


def _apply(message: Message, report: DeliveryReport) -> bool:
    """Move ``message`` on by ``report``; whether its status changed (a late report never moves it back)."""
    if not message.provider_message_id or message.status == "sending":
        message.provider = report.provider
        message.provider_message_id = message.provider_message_id or report.provider_message_id
        message.sent_at = message.sent_at or report.occurred_at
    if report.price_micros is not None:
        message.price_micros = report.price_micros
    new = "sent" if report.status == "queued" else report.status
    if RANK[new] <= RANK.get(message.status, 0):
        return False
    message.status = new
    if new == "delivered":
        message.delivered_at = report.occurred_at
    if new in _FAILED:
        message.error_code = (report.provider_code or report.provider_status)[:40]
        message.error_reason = (report.description or report.provider_status)[:500]
    return True


def has_status_subscribers(session: Session) -> bool:
    """Whether any ``message.status`` webhook is wanted (skips per-message emits when none is)."""
    return bool(session.scalar(select(exists().where(WebhookSubscription.active.is_(True)))))
