"""The steps both import pages share (contacts on ``/console/imports``, orders on ``/console/order-imports``).

Choose a file → it is stored as it comes, nothing read (``contacts.import_drafts.save``) → the page polls the
draft every second, saying how long the reading takes, until a worker's preview is there → each change of a
column's field (or another choice) stores the new options and polls again (no new upload) → "Import" starts the
import of the same stored file. Each page says only what differs: its options, its preview's template and its
progress fragment (:class:`ImportPage`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from api.console import render
from api.deps import Acting, db_session, posted_form
from contacts import import_drafts
from contacts.models import ContactImport
from core.accounts import Principal
from core.errors import ValidationFailed
from core.settings import Settings


@dataclass(frozen=True)
class ImportPage:
    """What one import page adds to the shared steps."""

    kind: str  # contacts | orders (``contact_imports.kind``)
    path: str  # the page, e.g. /console/imports; the steps' routes hang under it
    preview_template: str  # renders ``preview`` (the draft's, as stored) with ``startable``
    #: the page's options as stored with the draft (JSON), from its form and the deployment's settings
    options: Callable[[FormData, Settings, str], dict[str, Any]]
    #: what the preview's template needs besides ``preview`` (given, with the draft's options): the fields a column
    #: may feed, the choices made
    context: Callable[[Session, Principal, dict[str, Any], dict[str, Any]], dict[str, Any]]


def mapping(form: FormData) -> dict[str, str] | None:
    """Each column's field as the form sends it (every column, so the preview shown is what runs)."""
    columns, chosen = [str(c) for c in form.getlist("column")], [str(t) for t in form.getlist("target")]
    if len(columns) != len(chosen):
        raise ValidationFailed("the column mapping is incomplete", errors=[{"field": "mapping"}])
    return dict(zip(columns, chosen, strict=True)) or None


def _draft_id(form: FormData) -> int:
    try:
        return int(str(form.get("upload") or ""))
    except ValueError:
        raise ValidationFailed("choose a CSV or XLSX file", errors=[{"field": "file", "message": "required"}]) from None


def upload(page: ImportPage, by: Acting, form: FormData) -> HTMLResponse:
    """Store the chosen file (its bytes only: reading it is the preview job's) and show it being read."""
    chosen = form.get("file")
    if not isinstance(chosen, UploadFile) or not chosen.filename:
        raise ValidationFailed("choose a CSV or XLSX file", errors=[{"field": "file", "message": "required"}])
    # the page's other choices come along; the columns' fields were a previous file's
    options = {**page.options(form, by.request.app.state.settings, chosen.filename), "mapping": None}
    draft = import_drafts.save(by.session, chosen.file, kind=page.kind, filename=chosen.filename, options=options,
                               actor=by.actor)
    return draft_fragment(page, by.request, by.session, by.principal, draft)


def choose(page: ImportPage, by: Acting, form: FormData) -> HTMLResponse:
    """Preview the stored file again with the form's choices (nothing is written but the draft's options)."""
    draft = import_drafts.get(by.session, _draft_id(form), kind=page.kind)
    import_drafts.choose(by.session, draft, page.options(form, by.request.app.state.settings, draft.filename))
    return draft_fragment(page, by.request, by.session, by.principal, draft)


def start(page: ImportPage, by: Acting, form: FormData) -> ContactImport:
    """Start importing the stored file as previewed with the form's choices (audited by the domain)."""
    draft = import_drafts.get(by.session, _draft_id(form), kind=page.kind)
    options = page.options(form, by.request.app.state.settings, draft.filename)
    return import_drafts.launch(by.session, draft, options=options, actor=by.actor)


def draft_fragment(
    page: ImportPage, request: Request, session: Session, principal: Principal, draft: ContactImport
) -> HTMLResponse:
    """The draft as it stands: being read (the fragment polls itself), unreadable (why), or its preview."""
    view = import_drafts.shown(draft)
    last = view["last"]
    context = {
        "page": page, "draft": draft, **view, "reading": view["preview"] is None and not view["error"],
        "megabytes": f"{draft.size_bytes / 1_048_576:.1f}",
        **(page.context(session, principal, last, draft.options) if last else {}),
    }  # fmt: skip
    return render(request, "console/_import_draft.html", context, principal=principal)


def add_routes(router: APIRouter, page: ImportPage, *, readers: Any, writers: Any) -> None:
    """The steps' routes under ``page.path`` on ``router``: ``upload`` (the file), ``preview`` (the choices) and
    ``drafts/{id}`` (what the page polls); ``readers`` / ``writers`` are the page's role dependencies. The start
    route is the page's own (its progress fragment)."""
    base = page.path.removeprefix(router.prefix)

    @router.post(f"{base}/upload", response_class=HTMLResponse, name=f"{page.kind}_import_upload")
    def upload_step(by: Acting = writers, form: FormData = Depends(posted_form)) -> HTMLResponse:
        """Store the chosen file and show it being read (a worker previews it: ``contacts.import_drafts``)."""
        return upload(page, by, form)

    @router.post(f"{base}/preview", response_class=HTMLResponse, name=f"{page.kind}_import_preview")
    def preview_step(by: Acting = writers, form: FormData = Depends(posted_form)) -> HTMLResponse:
        """Preview the stored file again with the page's current choices (nothing is written but them)."""
        return choose(page, by, form)

    @router.get(f"{base}/drafts/{{draft_id}}", response_class=HTMLResponse, name=f"{page.kind}_import_draft")
    def draft_step(
        request: Request,
        draft_id: int,
        session: Session = Depends(db_session, scope="function"),
        principal: Principal = Depends(readers),
    ) -> HTMLResponse:
        """The stored file being read, or its preview (the fragment polls itself until the preview is there)."""
        return draft_fragment(page, request, session, principal, import_drafts.get(session, draft_id, kind=page.kind))
