"""Contacts in bulk: CSV/XLSX import with a validation report, CSV export, CRM and webhook sync.

Roles: marketers import and export; HubSpot/CSV sync is admin only; the signed webhook sync
carries its own proof and is public. (Kept apart from ``contacts.py`` and named so that it is
included before it: these static paths must match before ``/contacts/{contact_id}``.)
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from contacts import segments
from contacts.crm import config as crm_config
from contacts.crm import csv_sync, hubspot, webhook_sync
from contacts.export import export_csv
from contacts.importer import ImportOptions, OnExisting, import_file
from core import audit, db
from core.accounts import Principal
from core.errors import PayloadTooLarge, ValidationFailed
from core.rbac import Role
from core.redis import get_redis

router = APIRouter(prefix="/api/v1", tags=["contacts"])
PUBLIC_PATHS = frozenset({"/api/v1/contacts/sync/webhook"})
WRITERS = require(Role.MARKETER)
ADMINS = require(Role.ADMIN)
MAX_IMPORT_BYTES = 500 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
