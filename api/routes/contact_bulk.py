"""Contacts in bulk: CSV/XLSX imports as background jobs, CSV export, CRM and webhook sync.

Roles: marketers import and export; HubSpot/CSV sync is admin only; the signed webhook sync
carries its own proof and is public. (Kept apart from ``contacts.py`` and named so that it is
included before it: these static paths must match before ``/contacts/{contact_id}``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import actor, db_session, raw_body, require
from api.uploads import Upload, uploaded
from contacts import import_jobs, segments
from contacts.crm import config as crm_config
from contacts.crm import csv_sync, hubspot, hubspot_run, webhook_sync
from contacts.export import export_csv
from contacts.file_limits import FileLimits
from contacts.import_mapping import parse_mapping
from contacts.import_preview import preview
from contacts.importer import ImportOptions, OnExisting
from contacts.models import ContactImport
from contacts.schemas import ImportJobOut
from core import audit, db
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from core.redis import get_redis

router = APIRouter(prefix="/api/v1", tags=["contacts"])
PUBLIC_PATHS = frozenset({"/api/v1/contacts/sync/webhook"})
WRITERS = require(Role.MARKETER)
ADMINS = require(Role.ADMIN)


# -- import / export ----------------------------------------------------------------------------


def _options(
    request: Request, raw_mapping: str | None, filename: str, *, on_existing: OnExisting = "merge",
    require_consent: bool = False, dry_run: bool = False, strict: bool = False,
    list_id: list[int] | None = None, tag: list[str] | None = None, language_from_country: bool = False,
) -> ImportOptions:  # fmt: skip
    return ImportOptions(
        mapping=parse_mapping(raw_mapping),
        on_existing=on_existing,
        require_consent=require_consent,
        dry_run=dry_run,
        strict=strict,
        region=request.app.state.settings.default_region,
        list_ids=tuple(list_id or ()),
        tags=tuple(tag or ()),
        source_name=filename,
        language_from_country=language_from_country,
    )


def _job_out(session: Session, job: ContactImport) -> ImportJobOut:
    return ImportJobOut.of(
        job,
        percent=import_jobs.percent(job),
        notices=import_jobs.notices(job),
        errors=import_jobs.problems(session, job.id, errors=True, limit=50),
        warnings=import_jobs.problems(session, job.id, errors=False, limit=50),
    )


@router.post("/contacts/import", status_code=202)
def import_contacts(
    request: Request,
    response: Response,
    mapping: str | None = Query(None, description='JSON {"file column": "phone" | "name" | "attribute:x" | "ignore"}'),
    on_existing: OnExisting = Query("merge"),
    require_consent: bool = Query(False),
    dry_run: bool = Query(False, description="validate the whole file, write no contact"),
    strict: bool = Query(False, description="all or nothing: one invalid row and nothing is imported"),
    list_id: list[int] = Query(default_factory=list),
    tag: list[str] = Query(default_factory=list),
    language_from_country: bool = Query(False, description="a row without a language gets its number's country's "
                                        "main language, where the country has one (not BE, CH, CA…)"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
    upload: Upload = Depends(uploaded, scope="function"),
) -> ImportJobOut:
    """Start importing a CSV or XLSX file (a ``text/csv`` or XLSX body, or multipart with a ``file``
    part and an optional ``mapping`` field): 202 with the import to poll.

    The file is checked (size, encoding, header, mapping) before the answer: problems there are a
    413 or 422. Rows are imported in the background; valid rows go in, invalid ones are listed in
    ``rejected.csv`` (``strict`` makes it all or nothing).
    """
    options = _options(
        request, mapping or upload.mapping, upload.filename, on_existing=on_existing,
        require_consent=require_consent, dry_run=dry_run, strict=strict, list_id=list_id, tag=tag,
        language_from_country=language_from_country,
    )  # fmt: skip
    job = import_jobs.start(session, upload.binary, filename=upload.filename, options=options,
                            limits=FileLimits.of(request.app.state.settings), actor=actor(request, principal))
    response.headers["Location"] = f"/api/v1/contacts/imports/{job.id}"
    return _job_out(session, job)


@router.post("/contacts/imports/preview")
def preview_import(
    request: Request,
    mapping: str | None = Query(None, description="overrides of the automatic mapping, as for the import"),
    language_from_country: bool = Query(False, description="a row without a language gets its number's country's "
                                        "main language, where the country has one (not BE, CH, CA…)"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
    upload: Upload = Depends(uploaded, scope="function"),
) -> dict[str, Any]:
    """What an import of this file would do, writing nothing: format, encoding, delimiter, each
    column's field (French and English header synonyms applied, ``mapping`` overrides) and the
    first rows validated (status ok / warning / rejected with the problems)."""
    options = _options(request, mapping or upload.mapping, upload.filename, language_from_country=language_from_country)
    return preview(session, upload.binary, filename=upload.filename, options=options,
                   limits=FileLimits.of(request.app.state.settings))


@router.get("/contacts/imports")
def list_imports(
    session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(WRITERS)
) -> list[ImportJobOut]:
    """The latest 50 imports, newest first (kept a week after they finish)."""
    return [_job_out(session, job) for job in import_jobs.recent(session)]


@router.get("/contacts/imports/{import_id}")
def get_import(
    import_id: int, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(WRITERS)
) -> ImportJobOut:
    """An import's status and progress, counts, the first rejected rows and warnings."""
    return _job_out(session, import_jobs.get(session, import_id))


@router.post("/contacts/imports/{import_id}/cancel", status_code=202)
def cancel_import(
    request: Request,
    import_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(WRITERS),
) -> ImportJobOut:
    """Stop an import at its next batch (rows already imported stay); 409 once it has finished."""
    job = import_jobs.cancel(session, import_id, actor=actor(request, principal))
    return _job_out(session, job)


@router.get("/contacts/imports/{import_id}/rejected.csv")
def rejected_csv(
    import_id: int, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(WRITERS)
) -> StreamingResponse:
    """The rejected rows as CSV: ``row`` (the spreadsheet's number), ``reason``, then the row as uploaded."""
    import_jobs.get(session, import_id)

    def chunks() -> Iterator[str]:
        with db.session_scope() as reader:
            yield from import_jobs.rejected_csv(reader, import_jobs.get(reader, import_id))

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejected.csv"'},
    )


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
def webhook_sync_in(request: Request, body: bytes = Depends(raw_body),
                    session: Session = Depends(db_session, scope="function")) -> dict[str, int]:
    """Contact upserts pushed by another system, signed like Relais' own webhooks (public, HMAC).

    A plain ``def``: the replay guard's Redis call and the upserts run in the threadpool, not on the event loop."""
    settings = request.app.state.settings
    return webhook_sync.receive(session, secret=crm_config.webhook_secret(settings),
                                header=request.headers.get("relais-signature", ""), body=body,
                                redis=get_redis(settings), region=settings.default_region)


def _audit_hubspot(session: Session, request: Request, principal: Principal, result: hubspot.SyncResult) -> None:
    audit.record(
        session,
        actor=actor(request, principal),
        action="contacts.sync.hubspot",
        target_type="contact_sync",
        target_id="hubspot",
        # what the run met, without the empty fields ("resumed from: null" on the audit page said nothing)
        diff={k: v for k, v in result.as_dict().items() if k != "invalid" and v not in (None, "")},
    )


@router.post("/contacts/sync/hubspot")
def hubspot_sync(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> dict[str, Any]:
    """Pull HubSpot contacts, then push Relais consent changes back (STOPs, declined marketing, opt-ins).

    An interrupted sync answers 502 saying why and where the next one resumes; what it did is kept and audited.
    While another sync runs (the periodic job), 409.
    """
    config = crm_config.hubspot_config(request.app.state.settings)
    if config is None:
        raise ValidationFailed("HubSpot sync is not configured (RELAIS_HUBSPOT_ACCESS_TOKEN)")
    try:
        result = hubspot_run.sync(session, config, redis=get_redis(request.app.state.settings))
    except hubspot.SyncInterrupted as exc:
        _audit_hubspot(session, request, principal, exc.result)  # committed with the progress kept
        raise
    _audit_hubspot(session, request, principal, result)
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
    report = csv_sync.sync_from_url(session, url, options, limits=FileLimits.of(settings))
    audit.record(
        session,
        actor=actor(request, principal),
        action="contacts.sync.csv",
        target_type="contact_sync",
        target_id="csv",
        diff={"rows": report.rows, "created": report.created, "updated": report.updated},
    )
    return report.as_dict()
