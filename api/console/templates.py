"""The marketer's templates: the list with search, and an editor with a live preview and counter.

The editor posts its fields on every change (debounced) to ``/console/templates/check``, which
answers the preview panel for the chosen sample contact (``campaigns.template_check.check``: the
same validation as a save, the same renderer as a send) and, out of band, the problems under the
message box and the list of variables. Saving, editing and deleting call the REST route functions
of ``api.routes.templates``, so the checks and the audit entries (``template.create`` / ``update``
/ ``delete``) are the API's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agent.responder.prompts import LANGUAGE_NAMES
from api.console import ConsoleRoute, contact_name, language_name, render
from api.console import template_form as editor_form
from api.console.contacts import masked
from api.deps import db_session, require
from api.routes import templates as rest
from campaigns import service, template_check
from campaigns.brand import first_language
from campaigns.models import Template
from campaigns.templates import MAX_RENDERED_CHARS
from channels.encoding import EncodingInfo
from channels.media import ALLOWED_CONTENT_TYPES
from contacts.models import Contact
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role
from core.words import counted

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
SAMPLE_CONTACTS = 50
LIST_LIMIT = 200
DONE = {"saved": "The template is saved.", "deleted": "The template is deleted."}


async def _draft(request: Request) -> editor_form.Draft:
    """The posted editor: a dependency read on the event loop, so the routes stay plain ``def``. Their checks resolve
    each attachment's host name (and the media check fetches it): on the loop, a slow name or address held every
    other request of the server meanwhile."""
    form = await request.form()
    return editor_form.from_form({key: [str(v) for v in form.getlist(key)] for key in form})


DRAFT = Depends(_draft)


def _contact_label(contact: Contact) -> str:
    """A contact in the "Preview for" list, its language by name ("French": it read "fr"), as on every page."""
    return f"{contact_name(contact)} · {masked(contact)} · {language_name(contact.language) or 'no language'}"


def _choices(session: Session, draft: editor_form.Draft) -> dict[str, Any]:
    """What the editor's selects offer: kinds, languages, MMS types and real contacts to preview for."""
    languages = dict(LANGUAGE_NAMES)
    languages.setdefault(draft.language, draft.language)
    contacts = session.scalars(select(Contact).where(Contact.erased.is_(False)).order_by(Contact.id)
                               .limit(SAMPLE_CONTACTS)).all()
    return {
        "kinds": editor_form.KINDS,
        "languages": languages,
        "media_types": sorted(ALLOWED_CONTENT_TYPES),
        "contacts": [(c.id, _contact_label(c)) for c in contacts],
        "max_chars": MAX_RENDERED_CHARS,
    }


def _summary(check: template_check.Check) -> str:
    """The line under the message box (announced after each re-check)."""
    if check.info is None:
        count = len(check.problems)
        return f"{counted(count, 'problem')} in the template" if count else ""
    info = check.info
    return f"As sent: {counted(info.characters, 'character')}, {info.encoding}, {counted(info.segments, 'segment')}"


def _checked(session: Session, draft: editor_form.Draft) -> dict[str, Any]:
    """The live check of a draft and the variables it may use (an unknown sample contact is none)."""
    contact = session.get(Contact, draft.contact_id) if draft.contact_id is not None else None
    try:
        data = editor_form.to_template(draft, name="draft")
    except ValidationFailed as exc:
        # an empty message box is a draft not yet written, not a mistake (a save still refuses it)
        blank = not draft.body.strip()
        result = template_check.Check(problems=[e for e in exc.errors or [] if not (blank and e["field"] == "body")])
        variables = template_check.available_variables(session)
    else:
        result = template_check.check(session, data, contact_id=contact.id if contact else None)
        variables = template_check.available_variables(session, data)
    return {"check": result, "variables": variables, "summary": _summary(result),
            "sample": _contact_label(contact) if contact else "a contact with no name or attributes",
            "codepoints": [f"U+{ord(ch):04X}" for ch in result.ucs2_characters]}


def _size(session: Session, template: Template) -> EncodingInfo | None:
    """Encoding and segments of ``template`` as sent to a contact with no data (``None``: not renderable)."""
    try:
        return template_check.check(session, editor_form.to_template(editor_form.from_template(template))).info
    except ValidationFailed:
        return None


@router.get("/templates", response_class=HTMLResponse)
def templates_page(
    request: Request,
    q: str = Query("", max_length=200),
    kind: str = Query("", pattern="^(marketing|transactional)?$"),
    done: str = Query("", pattern="^(saved|deleted)?$"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """Templates, last changed first, each with its size as sent to a contact with no data."""
    query = select(Template).order_by(Template.updated_at.desc(), Template.id.desc()).limit(LIST_LIMIT)
    if q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Template.name).like(like), func.lower(Template.body).like(like)))
    if kind:
        query = query.where(Template.kind == kind)
    rows = [(template, _size(session, template)) for template in session.scalars(query)]
    return render(request, "console/templates.html",
                  {"rows": rows, "q": q, "kind": kind, "kinds": editor_form.KINDS, "done": DONE.get(done, ""),
                   "limit": LIST_LIMIT}, principal=principal)


def _editor(request: Request, session: Session, principal: Principal, template: Template | None) -> HTMLResponse:
    if template is None:  # a new one starts in the brand's first language (its opt-out line follows it)
        draft = editor_form.Draft(language=first_language(session, LANGUAGE_NAMES))
    else:
        draft = editor_form.from_template(template)
    choices = _choices(session, draft)
    draft.contact_id = choices["contacts"][0][0] if choices["contacts"] else None
    return render(request, "console/template.html",
                  {"template": template, "draft": draft, **choices, **_checked(session, draft)}, principal=principal)


@router.get("/templates/new", response_class=HTMLResponse)
def new_template(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return _editor(request, session, principal, None)


@router.post("/templates/check", response_class=HTMLResponse)
def check(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    draft: editor_form.Draft = DRAFT,
) -> HTMLResponse:
    """The preview panel for the draft as typed; the problems and the variables swap in out of band."""
    checked = _checked(session, draft)
    return render(request, "console/_template_check.html", {"draft": draft, **checked, "oob": True},
                  principal=principal)


@router.post("/templates/media", response_class=HTMLResponse)
def redraw_media(
    request: Request,
    action: str = Form("", max_length=40),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    posted: editor_form.Draft = DRAFT,
) -> HTMLResponse:
    """The attachment rows after one was added or removed; the preview re-checks."""
    draft = editor_form.apply(posted, action)
    return render(request, "console/_template_media.html", {"draft": draft, **_choices(session, draft)},
                  principal=principal, headers={"HX-Trigger": "template-changed"})


@router.post("/templates/media/check", response_class=HTMLResponse)
def check_media(
    request: Request,
    index: int = Form(ge=0, lt=50),
    principal: Principal = Depends(MARKETERS),
    draft: editor_form.Draft = DRAFT,
) -> HTMLResponse:
    """Fetch one attachment of the draft (public addresses only) and say whether it will go."""
    row = draft.media[index] if index < len(draft.media) else editor_form.MediaRow()
    report = (template_check.inspect_media(row.url, row.content_type) if row.url
              else template_check.MediaReport(False, "enter the file's address first"))
    return render(request, "console/_template_media_report.html", {"report": report, "index": index},
                  principal=principal)


def _saved(done: str) -> Response:
    # HTMX follows HX-Location to the list, which says what was done
    return Response(status_code=204, headers={"HX-Location": f"/console/templates?done={done}"})


@router.post("/templates", response_class=HTMLResponse)
def create(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    draft: editor_form.Draft = DRAFT,
) -> Response:
    rest.create_template(editor_form.to_template(draft), request, session, principal)
    return _saved("saved")


@router.get("/templates/{template_id}", response_class=HTMLResponse)
def edit_template(
    request: Request,
    template_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return _editor(request, session, principal, service.get_template(session, template_id))


@router.post("/templates/{template_id}", response_class=HTMLResponse)
def update(
    request: Request,
    template_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    draft: editor_form.Draft = DRAFT,
) -> Response:
    rest.update_template(template_id, editor_form.to_template(draft), request, session, principal)
    return _saved("saved")


@router.post("/templates/{template_id}/delete", response_class=HTMLResponse)
def delete(
    request: Request,
    template_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> Response:
    rest.delete_template(template_id, request, session, principal)
    return _saved("deleted")
