"""Outbound webhooks: subscriptions per event type, signed deliveries, retries for 24 hours.

Each retry is a job scheduled by :func:`record_attempt` through :data:`POLICY` (``core.retry``): 30 s doubling to an
hour, or later when the receiver's ``Retry-After`` asks (a 429 or 503 saying "in ten minutes" is not knocked on
again after 30 s), however long, within the 24 hours.

Signature header ``Relais-Signature: t=<unix>,v1=<hex>`` where ``v1`` is
HMAC-SHA256(secret, "<t>.<raw body>"); receivers reject a ``t`` older than five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import outbound_http
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import WebhookDelivery, WebhookSubscription
from core.outbound_http import OutboundPolicy
from core.queue import NO_RETRY, JobSpec, enqueue_after_commit
from core.retry import RetryPolicy
from core.security import tokens

EVENT_TYPES = (
    "message.received",
    "message.status",
    "conversation.escalated",
    "conversation.closed",
    "contact.opted_out",
    "campaign.completed",
)
#: what "Send a test event" delivers: to the one subscription asked, whatever events it chose
TEST_EVENT = "webhook.test"
RETRY_WINDOW = timedelta(hours=24)
SIGNATURE_TOLERANCE_SECONDS = 300
TIMESTAMP_DIGITS = 12  # Unix seconds have 10 digits until the year 2286
# a pending delivery this far past its due time lost its job (the after-commit enqueue failed)
SWEEP_AFTER = timedelta(minutes=5)
#: the waits between attempts: scheduled by the queue, so no jitter is needed to spread them
POLICY = RetryPolicy(base=30.0, max_delay=3600.0, jitter=False)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verified_mac(secret: str, header: str, body: bytes, *, now: float | None = None) -> str | None:
    """The MAC a valid, fresh ``Relais-Signature`` header signs ``body`` with, else ``None``.

    The MAC is computed here, never taken from the header: a header may repeat ``v1=`` or carry
    other text, so a receiver that remembers accepted requests (to refuse replays) must key them on
    this value, which is the same for every spelling of one signed request.
    """
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp = parts.get("t", "")
    # Unix seconds in ASCII digits: int() took 4,000 digits, and the float subtraction below raised
    # OverflowError (an anonymous 500); it took Arabic-Indic digits and "1_700_000_000" too
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= TIMESTAMP_DIGITS):
        return None
    ts = int(stamp)
    if abs((now or time.time()) - ts) > SIGNATURE_TOLERANCE_SECONDS:
        return None
    expected = sign(secret, body, ts).split("v1=", 1)[1]
    return expected if tokens.same(parts.get("v1", ""), expected) else None


def verify(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """Check a ``Relais-Signature`` header (for receivers and tests)."""
    return verified_mac(secret, header, body, now=now) is not None


def create_subscription(
    session: Session, *, url: str, event_types: list[str], policy: OutboundPolicy | None = None
) -> WebhookSubscription:
    """A new subscription; its URL must be http(s) to a public address (``core.outbound_http``).

    Raises:
        OutboundBlocked: the URL is not http(s) or points to a loopback, private, link-local... address.
        ValidationFailed: unknown event types.
    """
    outbound_http.check_url(url, field="url", policy=policy)
    if not event_types:
        raise ValidationFailed(f"choose at least one event type: {', '.join(EVENT_TYPES)} or *",
                               errors=[{"field": "event_types"}])
    unknown = sorted(set(event_types) - set(EVENT_TYPES) - {"*"})
    if unknown:
        raise ValidationFailed(
            f"unknown event types {unknown}; choose from {', '.join(EVENT_TYPES)} or *",
            errors=[{"field": "event_types"}],
        )
    sub = WebhookSubscription(url=url, event_types=sorted(set(event_types)), secret=secrets.token_hex(32))
    session.add(sub)
    session.flush()
    return sub


def _active(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    if not sub.active:
        raise Conflict(f"the webhook to {sub.url} is deactivated: add it again to use it")
    return sub


def rotate_secret(session: Session, *, subscription_id: int) -> WebhookSubscription:
    """Give an active subscription a new signing secret; the old one signs nothing from now on.

    Raises:
        NotFound: no such subscription. Conflict: it is deactivated.
    """
    sub = _active(session, subscription_id)
    sub.secret = secrets.token_hex(32)
    session.flush()
    return sub


def send_test(session: Session, *, subscription_id: int) -> WebhookDelivery:
    """Queue a :data:`TEST_EVENT` to one active subscription (sent after the commit, retried like any event), so
    an admin sees the receiver answer, or why not, in the delivery log without waiting for a real event.

    Raises:
        NotFound: no such subscription. Conflict: it is deactivated.
    """
    sub = _active(session, subscription_id)
    event_id = uuid.uuid4().hex
    data = {"subscription_id": sub.id, "message": "A test event from Relais: your receiver got it."}
    payload = {"id": event_id, "type": TEST_EVENT, "created_at": utcnow().isoformat(), "data": data}
    delivery = WebhookDelivery(subscription_id=sub.id, event_id=event_id, event_type=TEST_EVENT, payload=payload)
    session.add(delivery)
    session.flush()
    _queue_delivery(session, delivery)
    return delivery


def _queue_delivery(session: Session, delivery: WebhookDelivery, delay: timedelta | None = None) -> None:
    enqueue_after_commit(
        session,
        JobSpec(
            func="core.tasks.deliver_webhook",
            args=(delivery.id,),
            job_id=f"webhook:{delivery.id}:{delivery.attempts}",
            queue="default",
            retry=NO_RETRY,  # retries are scheduled by deliver_webhook itself, over 24 hours
            at=(utcnow() + delay) if delay else None,
        ),
    )


def emit(session: Session, event_type: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Create one delivery per matching subscription; each is sent after the commit."""
    return emit_many(session, event_type, [data])


def emit_many(session: Session, event_type: str, items: list[dict[str, Any]]) -> list[WebhookDelivery]:
    """:func:`emit` for each of ``items`` (one event each), the subscriptions read once (a batch of
    inbound texts emits ``message.received`` for all of them)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    subs = [
        sub
        for sub in session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True)))
        if event_type in sub.event_types or "*" in sub.event_types
    ]
    deliveries = []
    for data in items:
        event_id = uuid.uuid4().hex
        for sub in subs:
            payload = {"id": event_id, "type": event_type, "created_at": utcnow().isoformat(), "data": data}
            delivery = WebhookDelivery(subscription_id=sub.id, event_id=event_id, event_type=event_type,
                                       payload=payload)
            session.add(delivery)
            session.flush()
            _queue_delivery(session, delivery)
            deliveries.append(delivery)
    return deliveries


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour between attempts."""
    return timedelta(seconds=POLICY.backoff(attempts))


def next_wait(attempts: int, retry_after: float | None) -> timedelta:
    """The wait before the attempt after ``attempts``: the receiver's ``Retry-After`` (seconds) when longer than
    :func:`backoff`, even past the hour (the retry window still ends it), else the backoff."""
    seconds = POLICY.wait(attempts, retry_after)
    return timedelta(seconds=seconds if seconds is not None else retry_after or 0.0)


def record_attempt(
    session: Session,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str,
    retry_after: float | None = None,
) -> None:
    """Store an attempt's outcome and schedule the next one while inside the retry window.

    ``error`` is Relais's own account of the attempt (status and timing, or the network error):
    the receiver's response body is never stored, so the log cannot relay what a URL answered.
    ``retry_after`` is the receiver's ``Retry-After`` in seconds (``core.retry.retry_after``), honoured.
    """
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error[:2000]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = "delivered"
        delivery.delivered_at = utcnow()
        delivery.next_attempt_at = None
    else:
        created = (
            delivery.created_at if delivery.created_at.tzinfo else delivery.created_at.replace(tzinfo=utcnow().tzinfo)
        )
        delay = next_wait(delivery.attempts, retry_after)
        if utcnow() + delay - created > RETRY_WINDOW:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.status = "pending"
            delivery.next_attempt_at = utcnow() + delay
            _queue_delivery(session, delivery, delay)
    session.flush()


def sweep_pending(session: Session, *, now: datetime | None = None, batch: int = 500) -> int:
    """Re-queue pending deliveries overdue by :data:`SWEEP_AFTER`; returns how many.

    A delivery's job is queued after the commit that created it (or recorded its last attempt); if
    Redis refused that enqueue, nothing would ever send it. Re-queueing one whose job is only late
    is harmless: the job id names the attempt, so a job still waiting in Redis is not duplicated.
    """
    cutoff = (now or utcnow()) - SWEEP_AFTER
    due = func.coalesce(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
    stale = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", due < cutoff)
        .order_by(WebhookDelivery.id)
        .limit(batch)
    ).all()
    for delivery in stale:
        _queue_delivery(session, delivery)
    return len(stale)


def deliveries(session: Session, *, subscription_id: int, limit: int = 100) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest first (at most ``limit``, capped at 1,000)."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(min(limit, 1000))
    )
    return list(session.scalars(stmt))


def replay(session: Session, *, delivery_id: int) -> WebhookDelivery:
    """Send delivery ``delivery_id``'s event again, as a new delivery (the same event id and body, its own attempts
    and 24-hour window) queued after the commit; returns it. The earlier delivery keeps its outcome in the log: a
    replay used to reset it in place, so its answer was lost and it read "trying again" after a 200.

    Raises ``NotFound`` for an unknown delivery."""
    earlier = session.get(WebhookDelivery, delivery_id)
    if earlier is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    delivery = WebhookDelivery(subscription_id=earlier.subscription_id, event_id=earlier.event_id,
                               event_type=earlier.event_type, payload=earlier.payload)
    session.add(delivery)
    session.flush()
    _queue_delivery(session, delivery)
    return delivery


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
