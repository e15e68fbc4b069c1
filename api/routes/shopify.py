"""Shopify webhooks (public, HMAC-verified): order confirmations and shipping updates."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import db_session
from campaigns import shopify, transactional
from core.errors import Unauthorized, ValidationFailed
from core.settings import get_settings

router = APIRouter(tags=["shopify"])
PUBLIC_PATHS = frozenset({"/webhooks/shopify/orders/create", "/webhooks/shopify/fulfillments/create"})


async def _handle(request: Request, session: Session, topic: str) -> dict[str, Any]:
    body = await request.body()
    if not shopify.verify(get_settings().shopify_webhook_secret, body, request.headers.get("x-shopify-hmac-sha256")):
        raise Unauthorized("Shopify HMAC signature missing or wrong")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationFailed("body is not JSON") from None
    event = shopify.map_payload(topic, payload if isinstance(payload, dict) else {})
    if event.contact is None:
        return {"status": "ignored", "reason": "no phone number in the payload"}
    webhook_id = request.headers.get("x-shopify-webhook-id")
    contact = transactional.resolve_contact(session, contact_id=None, contact=event.contact)
    result = transactional.handle_event(
        session,
        event_type=event.event_type,
        contact=contact,
        data=event.data,
        idempotency_key=f"shopify:{webhook_id}" if webhook_id else None,
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
