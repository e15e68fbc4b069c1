"""Contacts: CRUD, merge, attributes, lists, consent history and changes, privacy export and erasure.

Roles: marketers and agents read contacts and their consent; marketers write; privacy export and
erasure are admin only. Bulk import/export and sync live in ``contact_bulk.py``, suppressions and
the opt-out link in ``consent.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import privacy
from api.deps import Acting, acting, db_session, require
from campaigns import attribute_use
from campaigns.brand import business_name
from contacts import attributes as attrs
from contacts import consent, links, segments, service
from contacts.merge import merge_contacts
from contacts.models import AttributeDefinition, Contact, ContactList, ListMembership
from contacts.schemas import (
    AttributeIn,
    AttributeOut,
    AttributePatch,
    ConsentEventOut,
    ConsentIn,
    ConsentOut,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    ListIn,
    ListOut,
    MembersIn,
    MergeIn,
)
from conversations import visibility
from conversations.flows import queue_outbound
from core import audit
from core.accounts import Principal
from core.errors import NotFound, ValidationFailed
from core.rbac import Role
from core.runtime import secret_key

router = APIRouter(prefix="/api/v1", tags=["contacts"])
READERS = require(Role.MARKETER, Role.AGENT)
WRITERS = require(Role.MARKETER)
READER = acting(Role.MARKETER, Role.AGENT)
WRITER = acting(Role.MARKETER)
ADMIN = acting(Role.ADMIN)


# -- attributes ---------------------------------------------------------------------------------


@router.get("/contacts/attributes", response_model=list[AttributeOut])
def list_attributes(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[AttributeOut]:
    rows = session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.name))
    return [AttributeOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/contacts/attributes", response_model=AttributeOut, status_code=201)
def define_attribute(body: AttributeIn, by: Acting = WRITER) -> AttributeOut:
    found = attrs.define(by.session, **body.model_dump())
    by.audit("contact_attribute.define", "contact_attribute", found.id, body.model_dump())
    return AttributeOut.model_validate(found, from_attributes=True)


@router.patch("/contacts/attributes/{name}", response_model=AttributeOut)
def update_attribute(name: str, body: AttributePatch, by: Acting = WRITER) -> AttributeOut:
    """Change the description, segmentable or type; 409 naming the segments while they filter on it."""
    changes = body.model_dump(exclude_none=True)
    found = attrs.update(by.session, name=name, **changes)
    by.audit("contact_attribute.update", "contact_attribute", found.id, {"name": name, **changes})
    return AttributeOut.model_validate(found, from_attributes=True)


@router.delete("/contacts/attributes/{name}", status_code=204)
def delete_attribute(name: str, by: Acting = WRITER) -> None:
    """409 naming the segments, templates and campaigns that still read it."""
    attribute_use.undefine(by.session, name)
    by.audit("contact_attribute.delete", "contact_attribute", name)


# -- lists --------------------------------------------------------------------------------------


def _list_out(session: Session, found: ContactList) -> ListOut:
    size = session.scalar(select(func.count()).where(ListMembership.list_id == found.id)) or 0
    return ListOut(id=found.id, name=found.name, description=found.description, size=size, created_at=found.created_at)


@router.get("/contacts/lists", response_model=list[ListOut])
def list_lists(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[ListOut]:
    return [_list_out(session, found) for found in session.scalars(select(ContactList).order_by(ContactList.id))]


@router.post("/contacts/lists", response_model=ListOut, status_code=201)
def create_list(body: ListIn, by: Acting = WRITER) -> ListOut:
    found = service.create_list(by.session, name=body.name, description=body.description)
    by.audit("contact_list.create", "contact_list", found.id, {"list": found.name})
    return _list_out(by.session, found)


@router.post("/contacts/lists/{list_id}/members", response_model=ListOut)
def add_members(list_id: int, body: MembersIn, by: Acting = WRITER) -> ListOut:
    found = service.get_list(by.session, list_id)
    added = service.add_to_lists(by.session, contact_ids=body.contact_ids, list_ids=[list_id])
    by.audit("contact_list.add_members", "contact_list", list_id, {"added": added})
    return _list_out(by.session, found)


@router.delete("/contacts/lists/{list_id}/members/{contact_id}", status_code=204)
def remove_member(list_id: int, contact_id: int, by: Acting = WRITER) -> None:
    if not service.remove_from_list(by.session, list_id=list_id, contact_id=contact_id):
        raise NotFound(f"contact {contact_id} is not a member of list {list_id}")
    by.audit("contact_list.remove_member", "contact_list", list_id, {"contact_id": contact_id})


# -- contacts -----------------------------------------------------------------------------------


@router.get("/contacts", response_model=ContactPage)
def list_contacts(
    request: Request,
    phone: str | None = None,
    tag: str | None = None,
    list_id: int | None = None,
    segment_id: int | None = None,
    after_id: int = 0,
    limit: int = Query(50, ge=1, le=500),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> ContactPage:
    """Contacts by id; filter by exact phone (blind index), tag, list or saved segment. An agent lists the
    contacts who have a conversation (``conversations.visibility``)."""
    conditions: list[dict[str, Any]] = []
    if tag:
        conditions.append({"field": "tag", "op": "has", "value": tag})
    if list_id is not None:
        conditions.append({"field": "list", "op": "member", "value": list_id})
    ids = segments.compile_segment({"all": conditions})
    if segment_id is not None:
        ids = ids.where(Contact.id.in_(segments.contact_ids(session, segment_id).order_by(None).scalar_subquery()))
    if phone:
        from channels.phone import normalize_e164
        from core.crypto import blind_index

        e164 = normalize_e164(phone, region=request.app.state.settings.default_region)
        ids = ids.where(Contact.phone_index == blind_index(e164))
    ids = ids.where(visibility.contact_visible_to(principal.role))
    page = list(session.scalars(ids.where(Contact.id > after_id).limit(limit)))
    found = session.scalars(select(Contact).where(Contact.id.in_(page)).order_by(Contact.id)).all()
    return ContactPage(items=[ContactOut.of(c) for c in found], next_after_id=page[-1] if len(page) == limit else None)


@router.post("/contacts", response_model=ContactOut, status_code=201)
def create_contact(body: ContactIn, by: Acting = WRITER) -> ContactOut:
    settings = by.request.app.state.settings
    contact = service.create(
        by.session,
        phone=body.phone,
        region=settings.default_region,
        name=body.name,
        first_name=body.first_name,
        language=body.language,
        timezone=body.timezone,
        attributes=body.attributes,
        tags=body.tags,
        list_ids=body.list_ids,
    )
    by.audit("contact.create", "contact", contact.id, {"tags": contact.tags, "attributes": sorted(contact.attributes)})
    if body.consent is not None:
        _apply_consent(by.session, contact, body.consent, by.actor, business_name(by.session, settings))
    return ContactOut.of(contact)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(
    contact_id: int, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(READERS)
) -> ContactOut:
    return ContactOut.of(visibility.readable_contact(session, principal.role, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def update_contact(contact_id: int, body: ContactPatch, by: Acting = WRITER) -> ContactOut:
    contact = service.get(by.session, contact_id)
    by.audit("contact.update", "contact", contact.id, service.update(by.session, contact,
                                                                     body.model_dump(exclude_unset=True)))
    return ContactOut.of(contact)


@router.delete("/contacts/{contact_id}", status_code=200)
def erase_contact(contact_id: int, erase: bool = False, by: Acting = ADMIN) -> dict[str, Any]:
    """Erase a person's data (``?erase=true`` is required: contacts are erased, never dropped, so the
    consent tombstone remains)."""
    contact = service.get(by.session, contact_id)
    if not erase:
        raise ValidationFailed("contacts are erased, not deleted: call DELETE /api/v1/contacts/{id}?erase=true")
    return {"contact_id": contact.id, "erased": privacy.erase_person(by.session, contact, actor=by.actor)}


@router.get("/contacts/{contact_id}/export")
def export_person(contact_id: int, by: Acting = ADMIN) -> JSONResponse:
    """Everything held on this person (decrypted), as a JSON download; audited."""
    document = privacy.export_person(by.session, service.get(by.session, contact_id), actor=by.actor)
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'})


@router.post("/contacts/{contact_id}/merge", response_model=ContactOut)
def merge(contact_id: int, body: MergeIn, by: Acting = WRITER) -> ContactOut:
    """Fold contact ``source_id`` into this one (see ``contacts.merge``); the source is deleted."""
    target = service.get(by.session, contact_id)
    moved = merge_contacts(by.session, target=target, source=service.get(by.session, body.source_id))
    by.audit("contact.merge", "contact", target.id, moved)
    return ContactOut.of(target)


def _consent_out(session: Session, contact: Contact) -> ConsentOut:
    suppressed = contact.phone is not None and consent.is_suppressed(session, contact.phone)
    return ConsentOut(
        contact_id=contact.id,
        consent_status=contact.consent_status,
        opted_out=contact.opted_out,
        suppressed=suppressed or contact.erased,
        history=[ConsentEventOut.of(e) for e in consent.history(session, contact)],
    )


def _apply_consent(session: Session, contact: Contact, body: ConsentIn, who: audit.Actor, business: str) -> None:
    """Record the change; a double opt-in also texts the confirmation request (transactional lane)."""
    if body.action == "opt_out":
        consent.record_opt_out(session, contact=contact, source=body.source, proof=body.proof, actor=who)
        return
    consent.record_opt_in(
        session,
        contact=contact,
        source=body.source,
        proof=body.proof,
        actor=who,
        double_opt_in=body.double_opt_in,
    )
    if body.double_opt_in:
        queue_outbound(
            session,
            contact=contact,
            body=consent.double_opt_in_prompt(contact.language, business),
            lane="transactional",
            author_type="system",
            analysis={"kind": "double_opt_in"},
        )


@router.get("/contacts/{contact_id}/consent", response_model=ConsentOut)
def get_consent(
    contact_id: int, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(READERS)
) -> ConsentOut:
    return _consent_out(session, visibility.readable_contact(session, principal.role, contact_id))


@router.post("/contacts/{contact_id}/consent", response_model=ConsentOut, status_code=201)
def change_consent(contact_id: int, body: ConsentIn, by: Acting = READER) -> ConsentOut:
    """Record an opt-in (optionally double: pending until the person replies YES) or an opt-out."""
    contact = visibility.readable_contact(by.session, by.principal.role, contact_id)
    _apply_consent(by.session, contact, body, by.actor, business_name(by.session, by.request.app.state.settings))
    return _consent_out(by.session, contact)


@router.get("/contacts/{contact_id}/opt-out-link")
def opt_out_link_of(
    contact_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(WRITERS),
) -> dict[str, str]:
    settings = request.app.state.settings
    contact = service.get(session, contact_id)
    base = settings.public_url or str(request.base_url)
    return {"url": links.opt_out_url(base, secret_key(settings), contact.id)}
