"""The console's failed-jobs page (admins): what failed in the background, why, and retry or discard.

The list is :func:`core.failed_jobs.failed` (every queue's failed-jobs registry, dead letters
included), each job described in words and linked to what it was about (a campaign, an import, the
conversation of a message). "Retry" and "Discard" are HTMX posts that call the REST route functions
of ``api.routes.jobs``, so they are checked and audited (``job.requeue`` / ``job.discard``) as the API's.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from api.routes import jobs as rest
from conversations.models import Message
from core import failed_jobs
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ADMINS = require(Role.ADMIN)
ADMIN = acting(Role.ADMIN)
SHOWN = 100


def _links(session: Session, entries: list[failed_jobs.FailedJobEntry]) -> dict[str, str]:
    """The console page of each job's subject, by job id (none for subjects without a page)."""
    links: dict[str, str] = {}
    message_of: dict[int, str] = {}
    for entry in entries:
        kind, ids = entry.subject.kind, entry.subject.ids
        if kind == "campaign" and len(ids) == 1:
            links[entry.job.id] = f"/console/campaigns/{ids[0]}"
        elif kind == "import" and len(ids) == 1:
            links[entry.job.id] = f"/console/imports/{ids[0]}"
        elif kind == "order_import" and len(ids) == 1:
            links[entry.job.id] = f"/console/order-imports/{ids[0]}"
        elif kind == "message" and len(ids) == 1:
            message_of[ids[0]] = entry.job.id
    if message_of:
        rows = session.execute(select(Message.id, Message.conversation_id).where(Message.id.in_(message_of)))
        for message_id, conversation_id in rows:
            links[message_of[message_id]] = f"/console/conversations/{conversation_id}"
    return links


def _list(request: Request, session: Session, principal: Principal, template: str, done: str) -> HTMLResponse:
    entries = failed_jobs.failed(SHOWN)
    context = {"entries": entries, "links": _links(session, entries), "shown": SHOWN, "done": done}
    return render(request, template, context, principal=principal)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request, session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(ADMINS)
) -> HTMLResponse:
    return _list(request, session, principal, "console/jobs.html", "")


@router.post("/jobs/{job_id}/retry", response_class=HTMLResponse)
def retry(job_id: str, by: Acting = ADMIN) -> HTMLResponse:
    rest.requeue(job_id, by)
    return _list(by.request, by.session, by.principal, "console/_jobs.html", f"Job {job_id} is queued to run again.")


@router.post("/jobs/{job_id}/discard", response_class=HTMLResponse)
def discard(job_id: str, by: Acting = ADMIN) -> HTMLResponse:
    rest.discard(job_id, by)
    return _list(by.request, by.session, by.principal, "console/_jobs.html", f"Job {job_id} is discarded.")
