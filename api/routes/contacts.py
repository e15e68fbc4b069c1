"""Contacts: CRUD, merge, attributes, lists, consent, suppressions, import/export, CRM sync, privacy.

Roles: marketers and agents read contacts and their consent; marketers write; privacy export and
erasure, HubSpot/CSV sync and removing a suppression are admin only. The signed webhook sync and
the one-click opt-out link carry their own proof and are public.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import privacy
from api.deps import actor, db_session, require
from contacts import attributes as attrs
from contacts import consent, links, segments, service
from contacts.crm import config as crm_config
from contacts.crm import csv_sync, hubspot, webhook_sync
from contacts.export import export_csv
from contacts.importer import ImportOptions, OnExisting, import_file
from contacts.merge import merge_contacts
from contacts.models import AttributeDefinition, Contact, ContactList, ListMembership, Suppression
from contacts.schemas import (
    AttributeIn,
    AttributeOut,
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
    SuppressionIn,
    SuppressionOut,
)
from conversations.flows import queue_outbound
from core import audit, db
from core.accounts import Principal
from core.errors import NotFound, PayloadTooLarge, ValidationFailed
from core.rbac import Role
from core.redis import get_redis
from core.runtime import secret_key

router = APIRouter(prefix="/api/v1", tags=["contacts"])
PUBLIC_PATHS = frozenset({"/api/v1/contacts/sync/webhook", "/api/v1/opt-out/{token}"})
READERS = require(Role.MARKETER, Role.AGENT)
WRITERS = require(Role.MARKETER)
ADMINS = require(Role.ADMIN)
MAX_IMPORT_BYTES = 500 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- attributes ---------------------------------------------------------------------------------


@router.get("/contacts/attributes", response_model=list[AttributeOut])
def list_attributes(
    session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> list[AttributeOut]:
    rows = session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.name))
    return [AttributeOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/contacts/attributes", response_model=AttributeOut, status_code=201)
def define_attribute(
    body: AttributeIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> AttributeOut:
    found = attrs.define(session, **body.model_dump())
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact_attribute.define",
        target_type="contact_attribute",
        target_id=found.id,
        diff=body.model_dump(),
    )
    return AttributeOut.model_validate(found, from_attributes=True)


@router.delete("/contacts/attributes/{name}", status_code=204)
def delete_attribute(
    name: str,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> None:
    attrs.undefine(session, name=name)
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact_attribute.delete",
        target_type="contact_attribute",
        target_id=name,
    )


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
def create_list(
    body: ListIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ListOut:
    found = service.create_list(session, name=body.name, description=body.description)
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact_list.create",
        target_type="contact_list",
        target_id=found.id,
        diff={"list": found.name},
    )
    return _list_out(session, found)


@router.post("/contacts/lists/{list_id}/members", response_model=ListOut)
def add_members(
    list_id: int,
    body: MembersIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ListOut:
    found = service.get_list(session, list_id)
    added = service.add_to_lists(session, contact_ids=body.contact_ids, list_ids=[list_id])
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact_list.add_members",
        target_type="contact_list",
        target_id=list_id,
        diff={"added": added},
    )
    return _list_out(session, found)


@router.delete("/contacts/lists/{list_id}/members/{contact_id}", status_code=204)
def remove_member(
    list_id: int,
    contact_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> None:
    if not service.remove_from_list(session, list_id=list_id, contact_id=contact_id):
        raise NotFound(f"contact {contact_id} is not a member of list {list_id}")
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact_list.remove_member",
        target_type="contact_list",
        target_id=list_id,
        diff={"contact_id": contact_id},
    )


# -- import / export ----------------------------------------------------------------------------


def _mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationFailed("mapping is not JSON", errors=[{"field": "mapping"}]) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed('mapping must be a JSON object {"file column": "field"}', errors=[{"field": "mapping"}])
    return value


async def _spool(request: Request) -> tuple[Any, str, str | None]:
    """The uploaded file spooled to disk past 8 MB, its name, and a mapping sent as a form field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_part_size=MAX_IMPORT_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("multipart import needs a 'file' part", errors=[{"field": "file"}])
        mapping = form.get("mapping")
        return upload.file, upload.filename or "", mapping if isinstance(mapping, str) else None
    if content_type not in ("text/csv", "application/csv", "text/plain", XLSX_TYPE):
        raise ValidationFailed(
            f"send the file as text/csv, {XLSX_TYPE} or multipart/form-data (got {content_type or 'nothing'})"
        )
    # closed by the caller once imported
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise PayloadTooLarge("imports are limited to 500 MB")
        spool.write(chunk)
    spool.seek(0)
    return spool, "upload.xlsx" if content_type == XLSX_TYPE else "upload.csv", None


@router.post("/contacts/import")
async def import_contacts(
    request: Request,
    mapping: str | None = Query(None, description='JSON {"file column": "phone" | "name" | "attribute:x" ...}'),
    on_existing: OnExisting = Query("merge"),
    require_consent: bool = Query(False),
    dry_run: bool = Query(False),
    list_id: list[int] = Query(default_factory=list),
    tag: list[str] = Query(default_factory=list),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> dict[str, Any]:
    """Import a CSV or XLSX file: a ``text/csv`` (or XLSX) body, or multipart with a ``file`` part.

    All or nothing: any invalid row → 422 with one ``errors`` entry per problem (row, field,
    code, message) and nothing imported. ``dry_run`` validates and reports without writing.
    """
    binary, filename, form_mapping = await _spool(request)
    settings = request.app.state.settings
    options = ImportOptions(
        mapping=_mapping(mapping or form_mapping),
        on_existing=on_existing,
        require_consent=require_consent,
        dry_run=dry_run,
        region=settings.default_region,
        list_ids=tuple(list_id),
        tags=tuple(tag),
        source_name=filename,
    )
    who = actor(request, principal)
    try:
        report = await run_in_threadpool(import_file, session, binary, options, filename=filename, actor=who)
    finally:
        binary.close()
    result = report.as_dict()
    if not dry_run:
        audit.record(
            session,
            actor=who,
            action="contacts.import",
            target_type="contact_import",
            diff={k: result[k] for k in ("rows", "created", "updated", "skipped")},
        )
    return result


@router.get("/contacts/export")
def export_contacts(
    request: Request,
    segment_id: int | None = None,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> StreamingResponse:
    """CSV of the contacts (of one segment), streamed in batches; audited."""
    if segment_id is not None:
        segments.get(session, segment_id)
    audit.record(
        session,
        actor=actor(request, principal),
        action="contacts.export",
        target_type="segment" if segment_id else "contacts",
        target_id=segment_id or "",
    )
    session.commit()  # the audit entry stands even if the client drops the download

    def chunks() -> Any:
        with db.session_scope() as reader:
            ids = segments.contact_ids(reader, segment_id) if segment_id is not None else None
            yield from export_csv(reader, ids)

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


# -- CRM sync -----------------------------------------------------------------------------------


@router.post("/contacts/sync/webhook")
async def webhook_sync_in(request: Request, session: Session = Depends(db_session, scope="function")) -> dict[str, int]:
    """Contact upserts pushed by another system, signed like Relais' own webhooks (public, HMAC)."""
    settings = request.app.state.settings
    body = await request.body()
    webhook_sync.verify_request(
        secret=crm_config.webhook_secret(settings),
        header=request.headers.get("relais-signature", ""),
        body=body,
        redis=get_redis(settings),
    )
    return await run_in_threadpool(webhook_sync.apply, session, body, region=settings.default_region)


@router.post("/contacts/sync/hubspot")
def hubspot_sync(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> dict[str, Any]:
    """Pull HubSpot contacts, then push Relais opt-outs back."""
    config = crm_config.hubspot_config(request.app.state.settings)
    if config is None:
        raise ValidationFailed("HubSpot sync is not configured (RELAIS_HUBSPOT_ACCESS_TOKEN)")
    result = hubspot.pull_contacts(session, config)
    result.pushed = hubspot.push_opt_outs(session, config)
    audit.record(
        session,
        actor=actor(request, principal),
        action="contacts.sync.hubspot",
        diff={k: v for k, v in result.as_dict().items() if k != "invalid"},
    )
    return result.as_dict()


@router.post("/contacts/sync/csv")
def csv_url_sync(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> dict[str, Any]:
    """Fetch the CSV at ``contact_sync_csv_url`` and import it (merge policy, all or nothing)."""
    settings = request.app.state.settings
    url = crm_config.csv_url(settings)
    if not url:
        raise ValidationFailed("CSV sync is not configured (RELAIS_CONTACT_SYNC_CSV_URL)")
    options = ImportOptions(region=settings.default_region, source_name="csv-sync")
    report = csv_sync.sync_from_url(session, url, options)
    audit.record(
        session,
        actor=actor(request, principal),
        action="contacts.sync.csv",
        diff={"rows": report.rows, "created": report.created, "updated": report.updated},
    )
    return report.as_dict()


# -- suppressions -------------------------------------------------------------------------------


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(
    limit: int = Query(100, ge=1, le=1000),
    after_id: int = 0,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(WRITERS),
) -> list[SuppressionOut]:
    """Entries are blind indexes: the list shows reasons and dates, never numbers."""
    rows = session.scalars(select(Suppression).where(Suppression.id > after_id).order_by(Suppression.id).limit(limit))
    return [SuppressionOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(
    body: SuppressionIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> SuppressionOut:
    from channels.phone import normalize_e164

    e164 = normalize_e164(body.phone, region=request.app.state.settings.default_region)
    entry = consent.suppress_number(
        session, phone_e164=e164, reason=body.reason, note=body.note, actor=actor(request, principal)
    )
    return SuppressionOut.model_validate(entry, from_attributes=True)


@router.delete("/suppressions/{phone}", status_code=204)
def remove_suppression(
    phone: str,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> None:
    from channels.phone import normalize_e164

    e164 = normalize_e164(phone, region=request.app.state.settings.default_region)
    consent.unsuppress_number(session, phone_e164=e164, actor=actor(request, principal))


# -- one-click opt-out link (public) ------------------------------------------------------------

_OPT_OUT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:30em;margin:3em auto">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


@router.get("/opt-out/{token}", response_class=HTMLResponse)
@router.post("/opt-out/{token}", response_class=HTMLResponse)
def opt_out_link(
    token: str, request: Request, session: Session = Depends(db_session, scope="function")
) -> HTMLResponse:
    """GET shows a confirmation button (link previewers must not unsubscribe people); POST opts out."""
    contact_id = links.contact_id_from_token(secret_key(request.app.state.settings), token)
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None:
        page = _OPT_OUT_PAGE.format(title="Link not valid", text="This unsubscribe link is not valid.", form="")
        return HTMLResponse(page, status_code=404)
    if request.method == "GET" and not contact.opted_out:
        form = '<form method="post"><button type="submit">Stop all messages</button></form>'
        page = _OPT_OUT_PAGE.format(title="Unsubscribe", text="Stop receiving text messages from us?", form=form)
        return HTMLResponse(page)
    if not contact.opted_out:
        consent.record_opt_out(session, contact=contact, source="link", proof="one-click unsubscribe link")
    page = _OPT_OUT_PAGE.format(title="Unsubscribed", text="You will not receive marketing messages any more.", form="")
    return HTMLResponse(page)


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
    _: Principal = Depends(READERS),
) -> ContactPage:
    """Contacts by id; filter by exact phone (blind index), tag, list or saved segment."""
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
    page = list(session.scalars(ids.where(Contact.id > after_id).limit(limit)))
    found = session.scalars(select(Contact).where(Contact.id.in_(page)).order_by(Contact.id)).all()
    return ContactPage(items=[ContactOut.of(c) for c in found], next_after_id=page[-1] if len(page) == limit else None)


@router.post("/contacts", response_model=ContactOut, status_code=201)
def create_contact(
    body: ContactIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ContactOut:
    who = actor(request, principal)
    contact = service.create(
        session,
        phone=body.phone,
        region=request.app.state.settings.default_region,
        name=body.name,
        first_name=body.first_name,
        language=body.language,
        timezone=body.timezone,
        attributes=body.attributes,
        tags=body.tags,
        list_ids=body.list_ids,
    )
    audit.record(
        session,
        actor=who,
        action="contact.create",
        target_type="contact",
        target_id=contact.id,
        diff={"tags": contact.tags, "attributes": sorted(contact.attributes)},
    )
    if body.consent is not None:
        _apply_consent(session, contact, body.consent, who, request.app.state.settings.business_name)
    return ContactOut.of(contact)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(
    contact_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> ContactOut:
    return ContactOut.of(service.get(session, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def update_contact(
    contact_id: int,
    body: ContactPatch,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ContactOut:
    contact = service.get(session, contact_id)
    diff = service.update(session, contact, body.model_dump(exclude_unset=True))
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact.update",
        target_type="contact",
        target_id=contact.id,
        diff=diff,
    )
    return ContactOut.of(contact)


@router.delete("/contacts/{contact_id}", status_code=200)
def erase_contact(
    contact_id: int,
    request: Request,
    erase: bool = False,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> dict[str, Any]:
    """Erase a person's data (``?erase=true`` is required: contacts are erased, never dropped, so the
    consent tombstone remains)."""
    contact = service.get(session, contact_id)
    if not erase:
        raise ValidationFailed("contacts are erased, not deleted: call DELETE /api/v1/contacts/{id}?erase=true")
    return {
        "contact_id": contact.id,
        "erased": privacy.erase_person(session, contact, actor=actor(request, principal)),
    }


@router.get("/contacts/{contact_id}/export")
def export_person(
    contact_id: int,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ADMINS),
) -> JSONResponse:
    """Everything held on this person (decrypted), as a JSON download; audited."""
    document = privacy.export_person(session, service.get(session, contact_id), actor=actor(request, principal))
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'})


@router.post("/contacts/{contact_id}/merge", response_model=ContactOut)
def merge(
    contact_id: int,
    body: MergeIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ContactOut:
    """Fold contact ``source_id`` into this one (see ``contacts.merge``); the source is deleted."""
    target = service.get(session, contact_id)
    moved = merge_contacts(session, target=target, source=service.get(session, body.source_id))
    audit.record(
        session,
        actor=actor(request, principal),
        action="contact.merge",
        target_type="contact",
        target_id=target.id,
        diff=moved,
    )
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
    contact_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(READERS)
) -> ConsentOut:
    return _consent_out(session, service.get(session, contact_id))


@router.post("/contacts/{contact_id}/consent", response_model=ConsentOut, status_code=201)
def change_consent(
    contact_id: int,
    body: ConsentIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(READERS),
) -> ConsentOut:
    """Record an opt-in (optionally double: pending until the person replies YES) or an opt-out."""
    contact = service.get(session, contact_id)
    _apply_consent(session, contact, body, actor(request, principal), request.app.state.settings.business_name)
    return _consent_out(session, contact)


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
