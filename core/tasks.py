"""Jobs of the core package: outbound webhook deliveries."""

from __future__ import annotations

import httpx

from core import db, webhooks
from core.models import WebhookDelivery, WebhookSubscription

TIMEOUT_SECONDS = 10.0


def deliver_webhook(delivery_id: int) -> str:
    """POST one delivery; idempotent (a delivered one is never sent again)."""
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
        try:
            response = httpx.post(sub.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
            webhooks.record_attempt(session, delivery, status_code=response.status_code, error=response.text[:500])
        except httpx.HTTPError as exc:
            webhooks.record_attempt(session, delivery, status_code=None, error=f"{type(exc).__name__}: {exc}")
        return delivery.status
