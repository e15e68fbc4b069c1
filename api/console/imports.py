"""The contact import wizard: upload → preview and mapping → import with a progress bar → report.

One form carries the file, the column mapping and ``strict`` through every step: each change of
the file or of a column's field re-posts it to the preview (``contacts.import_preview``, writing
nothing); "Import" posts it once more to start the background job (``contacts.import_jobs.start``,
the same function as ``POST /api/v1/contacts/import``), whose progress fragment polls itself every
second until the job ends and then shows the report. Rejected rows download from the API's
``rejected.csv``, which the console session may call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from contacts import attributes as attrs
from contacts import consent, import_jobs
from contacts.file_limits import FileLimits
from contacts.import_mapping import FIELDS
from contacts.import_preview import preview
from contacts.import_report import ImportOptions
from contacts.models import ContactImport
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
FIELD_LABELS = {
    "phone": "Phone number",
    "name": "Name (family name)",
    "first_name": "First name",
    "language": "Language",
    "timezone": "Time zone",
    "country": "Country",
    "tags": "Tags",
    "consent": "Marketing consent (yes / no)",
    "consent_proof": "Consent proof",
    "opted_out": "Opted out: STOP, no texts at all (yes / no)",
    "ignore": "Do not import",
}


def targets(session: Session) -> list[tuple[str, str]]:
    """What a column may feed, as ``(value, label)``: the contact fields, declared attributes, nothing."""
    fields = [(name, FIELD_LABELS[name]) for name in FIELDS]
    declared = [(f"attribute:{name}", f"Attribute: {name}") for name in sorted(attrs.schema(session))]
    return [*fields, *declared, ("ignore", FIELD_LABELS["ignore"])]


@dataclass(frozen=True)
class _Posted:
    """The wizard's form: the chosen file, with the options the preview and the import both run with."""

    binary: IO[bytes]
    filename: str
    options: ImportOptions
    limits: FileLimits


async def _posted(request: Request) -> _Posted:
    """The file and the wizard's choices: each column's field (every column sent, so the preview
    shown is what runs) and ``strict``; numbers in national form use the deployment's region."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationFailed("choose a CSV or XLSX file", errors=[{"field": "file", "message": "required"}])
    columns = [str(c) for c in form.getlist("column")]
    chosen = [str(t) for t in form.getlist("target")]
    if len(columns) != len(chosen):
        raise ValidationFailed("the column mapping is incomplete", errors=[{"field": "mapping"}])
    settings = request.app.state.settings
    options = ImportOptions(mapping=dict(zip(columns, chosen, strict=True)) or None,
                            strict=form.get("strict") == "on", region=settings.default_region,
                            source_name=upload.filename,
                            language_from_country=form.get("language_from_country") == "on")
    return _Posted(upload.file, upload.filename, options, FileLimits.of(settings))


def for_reader(notice: str | None, principal: Principal) -> str | None:
    """The consent notice as the reader needs it: the setting it names is an administrator's to change,
    so a marketer reads the consequence alone (not "Setting RELAIS_MARKETING_CONSENT=opt_in")."""
    if notice is None or principal.role == Role.ADMIN:
        return notice
    return notice.replace(f" {consent.setting_note()}", "")


@router.get("/imports", response_class=HTMLResponse)
def import_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return render(request, "console/imports.html", {"recent": import_jobs.recent(session, 10)}, principal=principal)


@router.post("/imports/preview", response_class=HTMLResponse)
async def preview_step(by: Acting = MARKETER) -> HTMLResponse:
    """The preview of the chosen file with the current mapping (nothing is written)."""
    posted = await _posted(by.request)
    found: dict[str, Any] = await run_in_threadpool(preview, by.session, posted.binary, filename=posted.filename,
                                                    options=posted.options, limits=posted.limits)
    found["consent_notice"] = for_reader(found.get("consent_notice"), by.principal)
    return render(by.request, "console/_import_preview.html", {"preview": found, "targets": targets(by.session)},
                  principal=by.principal)


@router.post("/imports", response_class=HTMLResponse)
async def start_import(by: Acting = MARKETER) -> HTMLResponse:
    """Start the background import of the previewed file; answers with its live progress."""
    posted = await _posted(by.request)
    job = await run_in_threadpool(import_jobs.start, by.session, posted.binary, filename=posted.filename,
                                  options=posted.options, limits=posted.limits, actor=by.actor)
    return _progress(by.request, by.session, by.principal, job)


def _context(session: Session, job: ContactImport, principal: Principal) -> dict[str, Any]:
    return {
        "job": job,
        "percent": import_jobs.percent(job),
        "finished": job.status in import_jobs.FINISHED,
        "notices": [for_reader(notice, principal) for notice in import_jobs.notices(job, file=False)],
        "file_notes": import_jobs.file_notes(job),
        "errors": import_jobs.problems(session, job.id, errors=True, limit=20),
        "warnings": import_jobs.problems(session, job.id, errors=False, limit=20),
    }


def _progress(request: Request, session: Session, principal: Principal, job: ContactImport) -> HTMLResponse:
    context = _context(session, job, principal)
    on_imports_page = urlsplit(request.headers.get("hx-current-url", "")).path == "/console/imports"
    if on_imports_page and (context["finished"] or request.method == "POST"):  # the list there shows this import
        context["recent"] = import_jobs.recent(session, 10)
    return render(request, "console/_import_progress.html", context, principal=principal)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_status(
    request: Request,
    import_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """An import's progress (the fragment HTMX polls) or, on a page load, the page around it."""
    job = import_jobs.get(session, import_id)
    if "hx-request" in request.headers:
        return _progress(request, session, principal, job)
    return render(request, "console/import.html", _context(session, job, principal), principal=principal)


@router.post("/imports/{import_id}/cancel", response_class=HTMLResponse)
def cancel_import(import_id: int, by: Acting = MARKETER) -> HTMLResponse:
    """Stop the import at its next batch (rows already imported stay); audited."""
    return _progress(by.request, by.session, by.principal, import_jobs.cancel(by.session, import_id, actor=by.actor))
