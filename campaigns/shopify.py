"""Shopify webhooks: HMAC verification and mapping of orders/fulfillments to Relais events.

Shopify signs the raw body with the app's secret: ``X-Shopify-Hmac-Sha256`` is
``base64(HMAC-SHA256(secret, body))``. Topics handled: ``orders/create`` → ``order.created``,
``fulfillments/create`` → ``order.shipped``; ``orders/create``, ``orders/paid`` and
``orders/cancelled`` also feed the contact's purchase history (``contacts.orders``, source
``shopify``, the order id as external id: :func:`order_of`), and ``refunds/create`` gives money back on a
recorded order (:func:`refund_of`, ``contacts.order_refunds.record_refund``). The event data given to templates::

    order:    id, number ("#1001"), total ("49.90"), total_micros, currency, items [{title, quantity}]
    tracking: number, url, company          (order.shipped only)
    campaign_id                              (when the order's note attributes carry relais_campaign)

The HMAC covers the body only, so replay protection comes from the body: an event is deduplicated
on its topic and the signed object's ``id`` (the order, or the fulfilment), never on the unsigned
``X-Shopify-Webhook-Id`` header, and a body whose newest of ``updated_at``/``created_at`` is older
than ``RELAIS_SHOPIFY_WEBHOOK_MAX_AGE_HOURS`` is refused. Fields with the wrong type (a list where
Shopify sends text) are refused with a 422 naming the field, not stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from campaigns.schemas import EventContact
from contacts.order_customers import Customer, customer_key
from contacts.orders import LineIn, OrderIn, to_micros
from core import json_input
from core.errors import ValidationFailed
from core.security import tokens

TOPICS = {"orders/create": "order.created", "fulfillments/create": "order.shipped"}
ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/cancelled"})
_PAID = frozenset({"paid", "partially_paid", "partially_refunded"})
_VOID = frozenset({"voided", "refunded"})


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True only when a secret is configured and ``header`` is the body's signature."""
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return tokens.same(header.strip(), expected)


def sign(secret: str, body: bytes) -> str:
    """The header value Shopify would send for ``body`` (for tests and local replays)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class ShopifyEvent:
    event_type: str
    contact: EventContact | None
    data: dict[str, Any]
    dedupe_key: str  # topic and the signed object's id: one event per order (or fulfilment), ever


def _wrong(field: str, reason: str, detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": field, "reason": reason}])


def _scalar(payload: dict[str, Any], key: str, *, field: str | None = None) -> Any:
    """``payload[key]`` when it is text, a number or absent; a list or object there is refused."""
    value = payload.get(key)
    if value is None or (isinstance(value, str | int | float | Decimal) and not isinstance(value, bool)):
        return value
    name = field or key
    raise _wrong(name, "wrong_type", f"Shopify field {name} must be text or a number")


def _object_id(payload: dict[str, Any]) -> str:
    value = _scalar(payload, "id")
    text = str(value).strip() if value is not None else ""
    if not text.isdigit():
        raise _wrong("id", "missing", "Shopify payload has no numeric id to deduplicate on")
    return text


def check_fresh(payload: dict[str, Any], *, now: datetime, max_age: timedelta) -> None:
    """Refuse a body last updated more than ``max_age`` ago (bodies without timestamps pass).

    Raises:
        ValidationFailed: stale (reason ``stale``) or unreadable timestamps.
    """
    stamps = []
    for key in ("updated_at", "created_at"):
        value = _scalar(payload, key)
        if value in (None, ""):
            continue
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise _wrong(key, "invalid", f"Shopify field {key} is not an ISO 8601 time") from None
        stamps.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    if stamps and now - max(stamps) > max_age:
        hours = max_age.total_seconds() / 3600
        raise _wrong("updated_at", "stale", f"Shopify body last updated more than {hours:.0f} hours ago (replay?)")


def _micros(amount: Any) -> int:
    try:
        return to_micros(amount)
    except ValueError:
        return 0


def _phone(*candidates: Any) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _quantity(item: dict[str, Any]) -> int:
    value = _scalar(item, "quantity", field="line_items.quantity")
    try:
        return int(value if value not in (None, "") else 1)
    except (TypeError, ValueError):
        raise _wrong("line_items.quantity", "wrong_type", "Shopify line item quantity must be a number") from None


def _order(payload: dict[str, Any]) -> dict[str, Any]:
    lines = payload.get("line_items") or []
    if not isinstance(lines, list):
        raise _wrong("line_items", "wrong_type", "Shopify field line_items must be a list")
    items = [{"title": str(_scalar(i, "title", field="line_items.title") or ""), "quantity": _quantity(i)}
             for i in lines if isinstance(i, dict)]
    number = _scalar(payload, "name") or _scalar(payload, "order_number") or ""
    total = _scalar(payload, "total_price")
    return {"id": str(payload.get("id", "")), "number": str(number),
            "total": str(total if total is not None else ""), "total_micros": _micros(total or 0),
            "currency": str(_scalar(payload, "currency") or ""), "items": items}


def map_payload(topic: str, payload: dict[str, Any]) -> ShopifyEvent:
    """The Relais event for a Shopify payload; ``contact`` is ``None`` when it has no phone number.

    Raises:
        KeyError: a topic Relais does not handle.
        ValidationFailed: no numeric ``id``, or a field of the wrong type (named in the problem).
    """
    event_type = TOPICS[topic]
    dedupe_key = f"shopify:{topic}:{_object_id(payload)}"
    customer = _dict(payload.get("customer"))
    if topic == "orders/create":
        phone = _phone(payload.get("phone"), customer.get("phone"), _dict(payload.get("shipping_address")).get("phone"),
                       _dict(payload.get("billing_address")).get("phone"))
        data: dict[str, Any] = {"order": _order(payload)}
        for attr in payload.get("note_attributes") or []:
            if isinstance(attr, dict) and attr.get("name") == "relais_campaign" and str(attr.get("value")).isdigit():
                data["campaign_id"] = int(attr["value"])
        first_name = _scalar(customer, "first_name", field="customer.first_name") or _scalar(
            _dict(payload.get("shipping_address")), "first_name", field="shipping_address.first_name")
        language = str(_scalar(payload, "customer_locale") or "")[:2] or None
    else:
        destination = _dict(payload.get("destination"))
        phone = _phone(destination.get("phone"), payload.get("phone"))
        data = {"order": {"id": str(_scalar(payload, "order_id") or ""), "number": str(_scalar(payload, "name") or "")},
                "tracking": {"number": str(_scalar(payload, "tracking_number") or ""),
                             "url": str(_scalar(payload, "tracking_url") or ""),
                             "company": str(_scalar(payload, "tracking_company") or "")}}
        first_name = _scalar(destination, "first_name", field="destination.first_name")
        language = None
    try:
        contact = EventContact(phone=phone, first_name=first_name, name=None, language=language) if phone else None
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "customer"
        raise _wrong(field, "invalid", f"Shopify customer field {field} is not acceptable") from None
    return ShopifyEvent(event_type=event_type, contact=contact, data=data, dedupe_key=dedupe_key)


def read_payload(body: bytes, *, now: datetime, max_age: timedelta) -> dict[str, Any]:
    """A verified webhook body as a JSON object, checked fresh.

    Raises:
        ValidationFailed: not a JSON object, or stale.
    """
    try:
        payload = json_input.loads(body)
    except ValueError:
        raise ValidationFailed("body is not JSON") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("body is not a JSON object")
    check_fresh(payload, now=now, max_age=max_age)
    return payload


@dataclass(frozen=True)
class ShopifyOrder:
    """An order payload as the purchase history records it, and who placed it."""

    order: OrderIn
    customer: Customer


def _time(payload: dict[str, Any], key: str) -> datetime | None:
    value = _scalar(payload, key)
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise _wrong(key, "invalid", f"Shopify field {key} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _line(item: dict[str, Any]) -> LineIn:
    price = _scalar(item, "price", field="line_items.price")
    try:
        micros = to_micros(price if price is not None else 0)
    except ValueError:
        raise _wrong("line_items.price", "invalid", "Shopify line item price is not an amount") from None
    product = _scalar(item, "sku", field="line_items.sku") or _scalar(item, "product_id", field="line_items.product_id")
    title = _scalar(item, "title", field="line_items.title")
    return LineIn(product_id=str(product or ""), description=str(title or ""), quantity=_quantity(item),
                  unit_price_micros=max(micros, 0))  # fmt: skip


def order_of(topic: str, payload: dict[str, Any], *, now: datetime) -> ShopifyOrder:
    """The purchase-history order of an ``orders/*`` payload: status from the topic, ``cancelled_at``
    and ``financial_status``; lines from ``line_items``; the customer's Shopify id and phone.

    Raises:
        ValidationFailed: no numeric ``id``, or a field of the wrong type (named).
    """
    external_id = _object_id(payload)
    lines = payload.get("line_items") or []
    if not isinstance(lines, list):
        raise _wrong("line_items", "wrong_type", "Shopify field line_items must be a list")
    cancelled_at = _time(payload, "cancelled_at")
    financial = str(_scalar(payload, "financial_status") or "")
    if topic == "orders/cancelled" or cancelled_at is not None or financial in _VOID:
        status = "cancelled"
    elif topic == "orders/paid" or financial in _PAID:
        status = "paid"
    else:
        status = "open"
    total = _scalar(payload, "total_price")
    customer = _dict(payload.get("customer"))
    address = _dict(payload.get("shipping_address")) or _dict(payload.get("billing_address"))
    order = OrderIn(
        source="shopify", external_id=external_id, status=status,
        ordered_at=_time(payload, "created_at") or _time(payload, "processed_at") or now,
        cancelled_at=cancelled_at or (now if status == "cancelled" else None),
        currency=str(_scalar(payload, "currency") or "")[:3].upper(),
        total_micros=_micros(total) if total is not None else None,
        country=str(_scalar(address, "country", field="shipping_address.country") or ""),
        # a line edited down to nothing is no purchase
        lines=tuple(line for line in (_line(i) for i in lines if isinstance(i, dict)) if line.quantity != 0),
    )  # fmt: skip
    phone = _phone(payload.get("phone"), customer.get("phone"), _dict(payload.get("shipping_address")).get("phone"),
                   _dict(payload.get("billing_address")).get("phone"))  # fmt: skip
    who = Customer(customer_id=customer_key(_scalar(customer, "id", field="customer.id") or ""), phone=phone or "")
    return ShopifyOrder(order=order, customer=who)


@dataclass(frozen=True)
class ShopifyRefund:
    """A ``refunds/create`` payload: the money that went back on an order, and when."""

    order_id: str
    refund_id: str
    refunded_micros: int
    at: datetime


def refund_of(payload: dict[str, Any], *, now: datetime) -> ShopifyRefund:
    """The amount of a refund: its successful ``refund`` transactions (a refund that only restocks gives nothing
    back), at its ``processed_at`` or ``created_at``.

    Raises:
        ValidationFailed: no numeric ``id`` or ``order_id``, or a field of the wrong type (named).
    """
    refund_id = _object_id(payload)
    order_id = str(_scalar(payload, "order_id") or "").strip()
    if not order_id.isdigit():
        raise _wrong("order_id", "missing", "Shopify refund has no numeric order_id")
    transactions = payload.get("transactions") or []
    if not isinstance(transactions, list):
        raise _wrong("transactions", "wrong_type", "Shopify field transactions must be a list")
    total = 0
    for item in (t for t in transactions if isinstance(t, dict)):
        kind = _scalar(item, "kind", field="transactions.kind")
        status = _scalar(item, "status", field="transactions.status")
        if kind == "refund" and status in ("success", None):
            amount = _scalar(item, "amount", field="transactions.amount")
            try:
                total += to_micros(amount if amount is not None else 0)
            except ValueError:
                raise _wrong("transactions.amount", "invalid", "Shopify transaction amount is not an amount") from None
    at = _time(payload, "processed_at") or _time(payload, "created_at") or now
    return ShopifyRefund(order_id=order_id, refund_id=refund_id, refunded_micros=max(total, 0), at=at)
