"""The contact import wizard: upload → preview and mapping → import with a progress bar → report.

The chosen file is stored as it comes and a worker previews it (``contacts.import_drafts``, running
``contacts.import_preview``: a 50 MiB workbook takes minutes to read, which the upload request could not wait
for); the page polls until the preview is there (``api.console.import_steps``, shared with the order import).
Each change of a column's field stores the choice and previews the stored file again; "Import" starts the
background job on that same file (``contacts.import_jobs.launch``, as ``POST /api/v1/contacts/import`` does),
whose progress fragment polls itself every second until the job ends and then shows the report. Rejected rows
download from the API's ``rejected.csv``, which the console session may call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.console import ConsoleRoute, import_steps, render
from api.deps import Acting, acting, db_session, posted_form, require
from contacts import attributes as attrs
from contacts import consent, import_jobs
from contacts.import_mapping import FIELDS
from contacts.import_report import ImportOptions
from contacts.models import ContactImport
from core.accounts import Principal
from core.rbac import Role
from core.settings import Settings

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


def _options(form: FormData, settings: Settings, filename: str) -> dict[str, Any]:
    """The wizard's choices as the import runs them: each column's field, ``strict``, the country's language;
    numbers in national form use the deployment's region."""
    return ImportOptions(mapping=import_steps.mapping(form), strict=form.get("strict") == "on",
                         region=settings.default_region, source_name=filename,
                         language_from_country=form.get("language_from_country") == "on").to_json()  # fmt: skip


def _context(
    session: Session, principal: Principal, preview: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    return {"targets": targets(session), "consent_notice": for_reader(preview.get("consent_notice"), principal)}


PAGE = import_steps.ImportPage(kind="contacts", path="/console/imports",
                               preview_template="console/_import_preview.html", options=_options,
                               context=_context)  # fmt: skip
import_steps.add_routes(router, PAGE, readers=MARKETERS, writers=MARKETER)


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


@router.post("/imports", response_class=HTMLResponse)
def start_import(by: Acting = MARKETER, form: FormData = Depends(posted_form)) -> HTMLResponse:
    """Start the background import of the previewed file; answers with its live progress."""
    job = import_steps.start(PAGE, by, form)
    return _progress(by.request, by.session, by.principal, job)


def _job_context(session: Session, job: ContactImport, principal: Principal) -> dict[str, Any]:
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
    context = _job_context(session, job, principal)
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
    return render(request, "console/import.html", _job_context(session, job, principal), principal=principal)


@router.post("/imports/{import_id}/cancel", response_class=HTMLResponse)
def cancel_import(import_id: int, by: Acting = MARKETER) -> HTMLResponse:
    """Stop the import at its next batch (rows already imported stay); audited."""
    return _progress(by.request, by.session, by.principal, import_jobs.cancel(by.session, import_id, actor=by.actor))
