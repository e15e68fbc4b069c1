"""The marketer's contacts pages: the searchable list and one contact's page (admins also erase/export).

Searching and filtering is ``contacts.search``; the contact page reads the consent ledger
(``contacts.consent.history``), the campaign texts sent to the person and their conversations.
The privacy export and erasure are the REST route functions of ``api.routes.contacts`` (so their
audit entries are the API's own), admin-only there as here: a marketer sees that an administrator
handles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, contact_card, country_code, language_code, predictions_card, render
from api.console.audit_words import actors_text
from api.console.views import user_names
from api.deps import Acting, acting, db_session, require
from api.routes import contacts as rest
from campaigns.models import Campaign
from contacts import consent, service
from contacts.models import CONSENT_STATES, Contact
from contacts.orders import list_orders
from contacts.search import Filters, search
from conversations.models import Conversation, Message
from core.accounts import Principal
from core.db import utcnow
from core.logging import mask_phones
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
ADMIN = acting(Role.ADMIN)
PAGE_SIZE = 50
HISTORY_LIMIT = 200
ORDERS_SHOWN = 20


@dataclass(frozen=True)
class CampaignText:
    """One campaign text sent (or not) to the contact."""

    campaign_id: int
    campaign: str
    status: str
    at: datetime
    planned: bool = False  # queued for ``at``, a later time (a best hour, the sending window): not sent yet


def masked(contact: Contact) -> str:
    """The number as lists show it: enough to tell two apart, not enough to text it."""
    return mask_phones(contact.phone) if contact.phone else "erased"


def campaign_history(session: Session, contact_id: int) -> list[CampaignText]:
    """The latest campaign texts of a contact with their delivery status, newest first."""
    rows = session.execute(
        select(Campaign.id, Campaign.name, Message.status, Message.sent_at, Message.created_at, Message.not_before)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .where(Message.contact_id == contact_id, Message.direction == "out")
        .order_by(Message.id.desc())
        .limit(HISTORY_LIMIT)
    )
    # a text queued for the contact's best hour read "queued | 12:51", the moment it was prepared, as if it had
    # been stuck since: it is planned for later, and the page says when
    return [CampaignText(cid, name, status, planned, True) if status == "queued" and planned and planned > created
            else CampaignText(cid, name, status, sent or created)
            for cid, name, status, sent, created, planned in rows]


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    request: Request,
    q: str = Query("", max_length=200),
    consent_status: str = Query("", alias="consent", max_length=12),
    language: str = Query("", max_length=64),  # a code or a name ("French"): language_code
    country: str = Query("", max_length=64),  # a code or a name ("France"): country_code
    tag: str = Query("", max_length=64),
    after_id: int = Query(0, ge=0, le=2**62),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """The contacts matching a search and filters, a page at a time (keyset on the id)."""
    filters = Filters(consent=consent_status, language=language_code(language), country=country_code(country), tag=tag)
    found = search(
        session, text=q, filters=filters, after_id=after_id, limit=PAGE_SIZE,
        region=request.app.state.settings.default_region,
    )  # fmt: skip
    return render(
        request,
        "console/contacts.html",
        {"found": found, "q": q, "filters": filters, "consent_states": CONSENT_STATES, "masked": masked,
         "after_id": after_id},
        principal=principal,
    )


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(
    request: Request,
    contact_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """Attributes, predictions, orders, the consent ledger, campaign texts and conversations of one contact."""
    contact = service.get(session, contact_id)
    ledger = consent.history(session, contact)
    orders = list_orders(session, contact.id, limit=ORDERS_SHOWN)
    conversations = session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id).order_by(Conversation.id.desc())
    ).all()
    return render(
        request,
        "console/contact.html",
        {
            "contact": contact,
            "phone": masked(contact),
            "consent": contact_card.consent_fact(session, contact),
            "ledger": ledger,
            "by": actors_text(session, ((e.actor_type, e.actor_id) for e in ledger)),
            "texts": campaign_history(session, contact.id),
            "conversations": conversations,
            "owners": user_names(session, {c.assigned_user_id for c in conversations if c.assigned_user_id}),
            "orders": orders,
            "predictions": predictions_card.build(session, contact.id, orders, today=utcnow().date()),
            "may_open_conversations": principal.role in (Role.ADMIN, Role.AGENT),
            "is_admin": principal.role == Role.ADMIN,
            "done": "",
        },
        principal=principal,
    )


@router.get("/contacts/{contact_id}/export")
def export_contact(contact_id: int, by: Acting = ADMIN) -> JSONResponse:
    """Everything held on the person: the JSON download of ``GET /api/v1/contacts/{id}/export``, audited there."""
    return rest.export_person(contact_id, by)


@router.post("/contacts/{contact_id}/erase", response_class=HTMLResponse)
def erase_contact(contact_id: int, by: Acting = ADMIN) -> HTMLResponse:
    """Erase the person's data, keeping the consent tombstone (``DELETE /api/v1/contacts/{id}?erase=true``,
    audited there).

    The page asks for confirmation first (a dialog whose button posts here with the CSRF header).
    """
    erased = rest.erase_contact(contact_id, erase=True, by=by)
    return render(by.request, "console/_contact_erased.html",
                  {"contact": service.get(by.session, contact_id), "counts": erased["erased"]}, principal=by.principal)
