"""Shopify webhooks (public, HMAC-verified): order confirmations and shipping updates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import db_session
from campaigns import shopify, transactional
from core.db import utcnow
from core.errors import Unauthorized
from core.settings import get_settings

router = APIRouter(tags=["shopify"])
PUBLIC_PATHS = frozenset({"/webhooks/shopify/orders/create", "/webhooks/shopify/fulfillments/create"})


async def _handle(request: Request, session: Session, topic: str) -> dict[str, Any]:
    body = await request.body()
    settings = get_settings()
    if not shopify.verify(settings.shopify_webhook_secret, body, request.headers.get("x-shopify-hmac-sha256")):
        raise Unauthorized("Shopify HMAC signature missing or wrong")
    max_age = timedelta(hours=settings.shopify_webhook_max_age_hours)
    event = shopify.read_event(topic, body, now=utcnow(), max_age=max_age)
    if event.contact is None:
        return {"status": "ignored", "reason": "no phone number in the payload"}
    contact = transactional.resolve_contact(session, contact_id=None, contact=event.contact)
    result = transactional.handle_event(
        session,
        event_type=event.event_type,
        contact=contact,
        data=event.data,
        idempotency_key=event.dedupe_key,  # from the signed body, not the unsigned X-Shopify-Webhook-Id
        source="shopify",
    )
    return {"status": result.event.status, "event_id": result.event.id, "duplicate": result.duplicate}


@router.post("/webhooks/shopify/orders/create")
async def orders_create(request: Request, session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    return await _handle(request, session, "orders/create")


@router.post("/webhooks/shopify/fulfillments/create")
async def fulfillments_create(
    request: Request, session: Session = Depends(db_session, scope="function")
) -> dict[str, Any]:
    return await _handle(request, session, "fulfillments/create")
