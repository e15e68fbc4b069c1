"""Shopify webhooks: HMAC verification and mapping of orders/fulfillments to Relais events.

Shopify signs the raw body with the app's secret: ``X-Shopify-Hmac-Sha256`` is
``base64(HMAC-SHA256(secret, body))``. Topics handled: ``orders/create`` → ``order.created``,
``fulfillments/create`` → ``order.shipped``. The event data given to templates::

    order:    id, number ("#1001"), total ("49.90"), total_micros, currency, items [{title, quantity}]
    tracking: number, url, company          (order.shipped only)
    campaign_id                              (when the order's note attributes carry relais_campaign)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from campaigns.schemas import EventContact

TOPICS = {"orders/create": "order.created", "fulfillments/create": "order.shipped"}


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True only when a secret is configured and ``header`` is the body's signature."""
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header.strip())


def sign(secret: str, body: bytes) -> str:
    """The header value Shopify would send for ``body`` (for tests and local replays)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class ShopifyEvent:
    event_type: str
    contact: EventContact | None
    data: dict[str, Any]


def _micros(amount: Any) -> int:
    try:
        return int(Decimal(str(amount)) * 1_000_000)
    except (InvalidOperation, ValueError):
        return 0


def _phone(*candidates: Any) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _order(payload: dict[str, Any]) -> dict[str, Any]:
    items = [{"title": str(i.get("title", "")), "quantity": int(i.get("quantity") or 1)}
             for i in payload.get("line_items") or [] if isinstance(i, dict)]
    return {"id": str(payload.get("id", "")), "number": str(payload.get("name") or payload.get("order_number") or ""),
            "total": str(payload.get("total_price", "")), "total_micros": _micros(payload.get("total_price", 0)),
            "currency": str(payload.get("currency", "")), "items": items}


def map_payload(topic: str, payload: dict[str, Any]) -> ShopifyEvent:
    """The Relais event for a Shopify payload; ``contact`` is ``None`` when it has no phone number.

    Raises:
        KeyError: a topic Relais does not handle.
    """
    event_type = TOPICS[topic]
    customer = _dict(payload.get("customer"))
    if topic == "orders/create":
        phone = _phone(payload.get("phone"), customer.get("phone"), _dict(payload.get("shipping_address")).get("phone"),
                       _dict(payload.get("billing_address")).get("phone"))
        data: dict[str, Any] = {"order": _order(payload)}
        for attr in payload.get("note_attributes") or []:
            if isinstance(attr, dict) and attr.get("name") == "relais_campaign" and str(attr.get("value")).isdigit():
                data["campaign_id"] = int(attr["value"])
        first_name = customer.get("first_name") or _dict(payload.get("shipping_address")).get("first_name")
        language = str(payload.get("customer_locale") or "")[:2] or None
    else:
        destination = _dict(payload.get("destination"))
        phone = _phone(destination.get("phone"), payload.get("phone"))
        data = {"order": {"id": str(payload.get("order_id", "")), "number": str(payload.get("name", ""))},
                "tracking": {"number": str(payload.get("tracking_number") or ""),
                             "url": str(payload.get("tracking_url") or ""),
                             "company": str(payload.get("tracking_company") or "")}}
        first_name = destination.get("first_name")
        language = None
    contact = EventContact(phone=phone, first_name=first_name, language=language) if phone else None
    return ShopifyEvent(event_type=event_type, contact=contact, data=data)
