"""Shopify webhooks (public, HMAC-verified): order confirmations and shipping updates, and the
purchase history (``orders/create``, ``orders/paid``, ``orders/cancelled`` feed ``contacts.orders``;
``refunds/create`` gives money back on a recorded order)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import db_session, raw_body
from campaigns import shopify, transactional
from contacts import order_refunds as refunds
from contacts import orders
from contacts.models import Contact
from core.db import utcnow
from core.errors import Unauthorized
from core.settings import get_settings

router = APIRouter(tags=["shopify"])
PUBLIC_PATHS = frozenset({"/webhooks/shopify/orders/create", "/webhooks/shopify/orders/paid",
                          "/webhooks/shopify/orders/cancelled", "/webhooks/shopify/fulfillments/create",
                          "/webhooks/shopify/refunds/create"})  # fmt: skip
BODY = Depends(raw_body)


def _record_order(session: Session, found: shopify.ShopifyOrder, contact: Contact | None) -> dict[str, Any]:
    """The order in the contact's purchase history (the event's contact, else by Shopify customer id or phone)."""
    contact_id = contact.id if contact is not None else orders.contact_for(
        session, found.customer, region=get_settings().default_region)
    if contact_id is None:
        return {"status": "ignored", "reason": "no contact matches the customer"}
    recorded = orders.record_or_advance(session, contact_id=contact_id, order=found.order)
    return {"status": recorded.order.status, "id": recorded.order.id, "created": recorded.created}


def _verified(request: Request, body: bytes) -> dict[str, Any]:
    """The body as a JSON object once its HMAC, freshness and shape are checked."""
    settings = get_settings()
    if not shopify.verify(settings.shopify_webhook_secret, body, request.headers.get("x-shopify-hmac-sha256")):
        raise Unauthorized("Shopify HMAC signature missing or wrong")
    return shopify.read_payload(body, now=utcnow(), max_age=timedelta(hours=settings.shopify_webhook_max_age_hours))


def _handle(request: Request, body: bytes, session: Session, topic: str) -> dict[str, Any]:
    # plain functions: their database work runs in the threadpool, never on the event loop (api.deps.raw_body)
    payload = _verified(request, body)
    now = utcnow()
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
def orders_create(request: Request, body: bytes = BODY,
                  session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    return _handle(request, body, session, "orders/create")


@router.post("/webhooks/shopify/orders/paid")
def orders_paid(request: Request, body: bytes = BODY,
                session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    """Payment captured: the order is recorded, or its status moves to paid (no message is sent)."""
    return _handle(request, body, session, "orders/paid")


@router.post("/webhooks/shopify/orders/cancelled")
def orders_cancelled(request: Request, body: bytes = BODY,
                     session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    """Cancelled: the order is recorded, or marked, cancelled (no message is sent)."""
    return _handle(request, body, session, "orders/cancelled")


@router.post("/webhooks/shopify/fulfillments/create")
def fulfillments_create(request: Request, body: bytes = BODY,
                        session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    return _handle(request, body, session, "fulfillments/create")


@router.post("/webhooks/shopify/refunds/create")
def refunds_create(request: Request, body: bytes = BODY,
                   session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    """Money given back on an order: a credit note in the purchase history, or the order cancelled once refunds
    reach its total (no message is sent; an order Relais never recorded is ignored, saying so)."""
    refund = shopify.refund_of(_verified(request, body), now=utcnow())
    if refund.refunded_micros <= 0:
        return {"status": "ignored", "reason": "no money went back (a restock or a failed refund)"}
    done = refunds.record_refund(session, source="shopify", order_id=refund.order_id, refund_id=refund.refund_id,
                                 refunded_micros=refund.refunded_micros, at=refund.at)  # fmt: skip
    if done.order is None:
        return {"status": "ignored", "reason": "no recorded order has this order_id"}
    answer: dict[str, Any] = {"status": done.outcome, "order": {"id": done.order.id, "status": done.order.status}}
    if done.credit is not None:
        answer["credit_note"] = {"id": done.credit.id, "external_id": done.credit.external_id}
    return answer
