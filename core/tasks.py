"""Jobs of the core package: outbound webhook deliveries, and the sweep of those whose job was lost."""

from __future__ import annotations

import time

import httpx

from core import db, outbound_http, webhooks
from core.models import WebhookDelivery, WebhookSubscription
from core.outbound_http import OutboundBlocked
from core.periodic import Periodic
from core.retry import retry_after

TIMEOUT_SECONDS = 10.0  # each wait: connecting, each read
DEADLINE_SECONDS = 30.0  # the whole delivery: a receiver trickling its answer is cut off here

PERIODIC = (Periodic("webhook-sweep", 300, "core.tasks.sweep_webhooks", "default"),)


def deliver_webhook(delivery_id: int) -> str:
    """POST one delivery through the public-only client; idempotent (a delivered one is never sent again)."""
    with db.session_scope() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status == "delivered":
            return "skipped"
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        if sub is None or not sub.active:
            delivery.status = "failed"
            delivery.last_error = "subscription removed or inactive"
            return "failed"
        body = webhooks.body_of(delivery)
        headers = {
            "content-type": "application/json",
            "relais-event": delivery.event_type,
            "relais-event-id": delivery.event_id,
            "relais-delivery-attempt": str(delivery.attempts + 1),
            "relais-signature": webhooks.sign(sub.secret, body),
        }
        start = time.perf_counter()
        try:
            # streamed and closed unread: the receiver's body is neither downloaded nor stored
            with outbound_http.client(timeout=TIMEOUT_SECONDS, deadline=DEADLINE_SECONDS) as client, client.stream(
                "POST", sub.url, content=body, headers=headers
            ) as response:
                status = response.status_code
                wait = retry_after(response.headers.get("retry-after")) if status // 100 != 2 else None
            ms = round((time.perf_counter() - start) * 1000)
            said = f"; Retry-After {wait:.0f} s" if wait is not None else ""
            webhooks.record_attempt(session, delivery, status_code=status, error=f"HTTP {status} in {ms} ms{said}",
                                    retry_after=wait)
        except OutboundBlocked as exc:
            webhooks.record_attempt(session, delivery, status_code=None, error=f"refused: {exc.detail}")
        except httpx.HTTPError as exc:
            webhooks.record_attempt(session, delivery, status_code=None, error=f"{type(exc).__name__}: {exc}")
        return delivery.status


def sweep_webhooks() -> int:
    """Periodic: re-queue pending deliveries whose job never ran (see :func:`core.webhooks.sweep_pending`)."""
    with db.session_scope() as session:
        return webhooks.sweep_pending(session)
