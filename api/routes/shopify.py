"""Shopify webhooks (public, HMAC-verified): order confirmations and shipping updates, and the
purchase history (``orders/create``, ``orders/paid``, ``orders/cancelled`` feed ``contacts.orders``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import db_session
from campaigns import shopify, transactional
from contacts import orders
from contacts.models import Contact
from core.db import utcnow
from core.errors import Unauthorized
from core.settings import get_settings

router = APIRouter(tags=["shopify"])
PUBLIC_PATHS = frozenset({"/webhooks/shopify/orders/create", "/webhooks/shopify/orders/paid",
                          "/webhooks/shopify/orders/cancelled", "/webhooks/shopify/fulfillments/create"})  # fmt: skip


def _record_order(session: Session, found: shopify.ShopifyOrder, contact: Contact | None) -> dict[str, Any]:
    """The order in the contact's purchase history (the event's contact, else by Shopify customer id or phone)."""
    contact_id = contact.id if contact is not None else orders.contact_for(
        session, found.customer, region=get_settings().default_region)
    if contact_id is None:
        return {"status": "ignored", "reason": "no contact matches the customer"}
    recorded = orders.record_or_advance(session, contact_id=contact_id, order=found.order)
    return {"status": recorded.order.status, "id": recorded.order.id, "created": recorded.created}


async def _handle(request: Request, session: Session, topic: str) -> dict[str, Any]:
    body = await request.body()
    settings = get_settings()
    if not shopify.verify(settings.shopify_webhook_secret, body, request.headers.get("x-shopify-hmac-sha256")):
        raise Unauthorized("Shopify HMAC signature missing or wrong")
    now = utcnow()
    payload = shopify.read_payload(body, now=now, max_age=timedelta(hours=settings.shopify_webhook_max_age_hours))
    # everything is mapped (and refused when ill-typed) before anything is written or sent
    event = shopify.map_payload(topic, payload) if topic in shopify.TOPICS else None
    order = shopify.order_of(topic, payload, now=now) if topic in shopify.ORDER_TOPICS else None
    answer: dict[str, Any] = {}
    contact = None
    if event is not None and event.contact is None:
        answer = {"status": "ignored", "reason": "no phone number in the payload"}
    elif event is not None and event.contact is not None:
        contact = transactional.resolve_contact(session, contact_id=None, contact=event.contact)
        result = transactional.handle_event(
            session,
            event_type=event.event_type,
            contact=contact,
            data=event.data,
            idempotency_key=event.dedupe_key,  # from the signed body, not the unsigned X-Shopify-Webhook-Id
            source="shopify",
        )
        answer = {"status": result.event.status, "event_id": result.event.id, "duplicate": result.duplicate}
    if order is not None:
        answer["order"] = _record_order(session, order, contact)
    return answer


@router.post("/webhooks/shopify/orders/create")
async def orders_create(request: Request, session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    return await _handle(request, session, "orders/create")


@router.post("/webhooks/shopify/orders/paid")
async def orders_paid(request: Request, session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    """Payment captured: the order is recorded, or its status moves to paid (no message is sent)."""
    return await _handle(request, session, "orders/paid")


@router.post("/webhooks/shopify/orders/cancelled")
async def orders_cancelled(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    """Cancelled: the order is recorded, or marked, cancelled (no message is sent)."""
    return await _handle(request, session, "orders/cancelled")


@router.post("/webhooks/shopify/fulfillments/create")
async def fulfillments_create(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return await _handle(request, session, "fulfillments/create")
