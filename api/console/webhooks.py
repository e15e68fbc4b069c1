"""The console's webhooks page (admins): the outbound webhook subscriptions with their events and state;
add one (its signing secret shown once), send it a test event, give it a new signing secret (shown once),
deactivate it after a confirmation; and each one's delivery log (what was sent, what the receiver answered,
the next try), where a delivery can be sent again.

Webhooks could be managed through the API only, so an admin walking the console found no page for
them. The form and the buttons are HTMX posts calling the REST route functions of
``api.routes.webhooks_out``, so the address check (public addresses only, ``core.outbound_http``) and the
audit rows (``webhook.create`` / ``webhook.deactivate``) are the API's own; a refused address is said in
the page's error line under the field's label.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from api.routes import webhooks_out
from core import webhooks
from core.accounts import Principal
from core.errors import NotFound
from core.models import WebhookSubscription
from core.rbac import Role
from core.webhooks import EVENT_TYPES

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
ADMIN = acting(Role.ADMIN)
_EVENT_WORDS = {
    "message.received": "a customer's text arrives",
    "message.status": "a text sent changes status (sent, delivered, failed)",
    "conversation.escalated": "a conversation goes to a person",
    "conversation.closed": "a conversation is closed",
    "contact.opted_out": "a contact opts out",
    "campaign.completed": "a campaign has sent its last text",
}
#: What each event is, for the form's checkboxes: every one of ``core.webhooks.EVENT_TYPES``, in that order
#: (an event type without words fails at import, so the page never silently leaves one out)
EVENTS: list[tuple[str, str]] = [(kind, _EVENT_WORDS[kind]) for kind in EVENT_TYPES]
DELIVERIES_SHOWN = 50


def _list(
    request: Request,
    session: Session,
    principal: Principal,
    template: str,
    *,
    done: str = "",
    created: webhooks_out.SubscriptionCreated | None = None,
    rotated: bool = False,
) -> HTMLResponse:
    subscriptions = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id.desc())).all()
    context = {"subscriptions": subscriptions, "events": EVENTS, "done": done, "created": created, "rotated": rotated}
    headers = {"Cache-Control": "no-store"} if created else None
    return render(request, template, context, principal=principal, headers=headers)


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> HTMLResponse:
    return _list(request, session, principal, "console/webhooks.html")


@router.post("/webhooks", response_class=HTMLResponse)
def create_webhook(
    url: str = Form("", max_length=2000),
    event_types: list[str] = Form([]),
    by: Acting = ADMIN,
) -> HTMLResponse:
    """Subscribe ``url`` to ``event_types``; the answer shows the signing secret once."""
    created = webhooks_out.create_subscription(webhooks_out.SubscriptionIn(url=url, event_types=event_types), by)
    return _list(by.request, by.session, by.principal, "console/_webhooks.html", created=created)


@router.post("/webhooks/{subscription_id}/deactivate", response_class=HTMLResponse)
def deactivate_webhook(subscription_id: int, by: Acting = ADMIN) -> HTMLResponse:
    webhooks_out.delete_subscription(subscription_id, by)
    done = f"Webhook {subscription_id} is deactivated: nothing more is sent to it."
    return _list(by.request, by.session, by.principal, "console/_webhooks.html", done=done)


@router.post("/webhooks/{subscription_id}/test", response_class=HTMLResponse)
def send_test_event(subscription_id: int, by: Acting = ADMIN) -> HTMLResponse:
    delivery = webhooks_out.send_test_event(subscription_id, by)
    sub = by.session.get(WebhookSubscription, delivery.subscription_id)
    url = sub.url if sub else ""
    done = f"A test event is on its way to {url}: its delivery log says what the receiver answered."
    return _list(by.request, by.session, by.principal, "console/_webhooks.html", done=done)


@router.post("/webhooks/{subscription_id}/secret", response_class=HTMLResponse)
def rotate_secret(subscription_id: int, by: Acting = ADMIN) -> HTMLResponse:
    """A new signing secret, shown once; the old one signs nothing from now on."""
    created = webhooks_out.rotate_secret(subscription_id, by)
    return _list(by.request, by.session, by.principal, "console/_webhooks.html", created=created, rotated=True)


def _deliveries(
    request: Request, session: Session, principal: Principal, subscription_id: int, *, done: str = ""
) -> HTMLResponse:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook {subscription_id} not found")
    found = webhooks.deliveries(session, subscription_id=subscription_id, limit=DELIVERIES_SHOWN)
    seen: set[str] = set()
    again = set()  # the deliveries that send an event an earlier one in the list sent ("Send again")
    for delivery in reversed(found):
        if delivery.event_id in seen:
            again.add(delivery.id)
        seen.add(delivery.event_id)
    context = {"subscription": sub, "deliveries": found, "shown": DELIVERIES_SHOWN, "done": done, "again": again,
               "waiting": any(d.status == "pending" for d in found)}
    return render(request, "console/webhook_deliveries.html", context, principal=principal)


@router.get("/webhooks/{subscription_id}/deliveries", response_class=HTMLResponse)
def deliveries_page(
    request: Request,
    subscription_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> HTMLResponse:
    return _deliveries(request, session, principal, subscription_id)


@router.post("/webhooks/deliveries/{delivery_id}/replay", response_class=HTMLResponse)
def replay_delivery(delivery_id: int, by: Acting = ADMIN) -> HTMLResponse:
    delivery = webhooks_out.replay_delivery(delivery_id, by)
    done = (f"The {delivery.event_type} event is sent again: a new delivery, first in the list, with 24 hours of "
            "attempts of its own.")
    return _deliveries(by.request, by.session, by.principal, delivery.subscription_id, done=done)
