"""Outbound webhook subscriptions, their delivery log and replay (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from core import webhooks
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import NotFound
from core.models import WebhookSubscription
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
ADMIN = acting(Role.ADMIN)


class SubscriptionIn(RequestBody):
    url: str
    event_types: list[str]


class SubscriptionOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def _sub_out(sub: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id, url=sub.url, event_types=sub.event_types, active=sub.active, created_at=sub.created_at
    )


@router.get("/webhooks", response_model=list[SubscriptionOut])
def list_subscriptions(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(require(Role.ADMIN))
) -> list[SubscriptionOut]:
    return [_sub_out(s) for s in session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))]


@router.post("/webhooks", response_model=SubscriptionCreated, status_code=201)
def create_subscription(body: SubscriptionIn, by: Acting = ADMIN) -> SubscriptionCreated:
    """The signing secret is returned here once."""
    sub = webhooks.create_subscription(by.session, url=body.url, event_types=body.event_types)
    by.audit("webhook.create", "webhook_subscription", sub.id, {"url": sub.url, "event_types": sub.event_types})
    return SubscriptionCreated(**_sub_out(sub).model_dump(), secret=sub.secret)


@router.delete("/webhooks/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: int, by: Acting = ADMIN) -> None:
    sub = by.session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    sub.active = False
    by.audit("webhook.deactivate", "webhook_subscription", sub.id)


@router.get("/webhooks/{subscription_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    subscription_id: int,
    limit: int = 100,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.ADMIN)),
) -> list[DeliveryOut]:
    found = webhooks.deliveries(session, subscription_id=subscription_id, limit=limit)
    return [DeliveryOut.model_validate(d, from_attributes=True) for d in found]


@router.post("/webhooks/{subscription_id}/test", response_model=DeliveryOut, status_code=202)
def send_test_event(subscription_id: int, by: Acting = ADMIN) -> DeliveryOut:
    """Queue a ``webhook.test`` event to this webhook; its outcome is in its delivery log."""
    delivery = webhooks.send_test(by.session, subscription_id=subscription_id)
    by.audit("webhook.test", "webhook_subscription", subscription_id, {"delivery_id": delivery.id})
    return DeliveryOut.model_validate(delivery, from_attributes=True)


@router.post("/webhooks/{subscription_id}/secret", response_model=SubscriptionCreated)
def rotate_secret(subscription_id: int, by: Acting = ADMIN) -> SubscriptionCreated:
    """A new signing secret, returned here once; the old one stops signing at once."""
    sub = webhooks.rotate_secret(by.session, subscription_id=subscription_id)
    by.audit("webhook.secret.rotate", "webhook_subscription", sub.id)
    return SubscriptionCreated(**_sub_out(sub).model_dump(), secret=sub.secret)


@router.post("/webhooks/deliveries/{delivery_id}/replay", response_model=DeliveryOut, status_code=202)
def replay_delivery(delivery_id: int, by: Acting = ADMIN) -> DeliveryOut:
    """Send a delivery's event again: a new delivery (202), which the subscription's log lists first."""
    delivery = webhooks.replay(by.session, delivery_id=delivery_id)
    # on the webhook, as its test events are: its History lists the replay (the delivery alone named no webhook)
    by.audit("webhook.replay", "webhook_subscription", delivery.subscription_id,
             {"delivery_id": delivery.id, "replay_of": delivery_id, "event": delivery.event_type})
    return DeliveryOut.model_validate(delivery, from_attributes=True)
