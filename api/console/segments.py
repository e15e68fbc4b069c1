"""The marketer's segments: the list with live sizes, and a rule builder with a live count and samples.

The builder (``api.console.segment_form``) posts its rows on every change: structural changes
(a field, a row or group added or removed) re-draw the builder, and every change re-counts
(``contacts.segments.count``) and lists up to :data:`SAMPLE_SIZE` matching contacts. Saving,
editing and deleting call the REST route functions of ``api.routes.segments``, so the checks
and the audit entries (``segment.create`` / ``update`` / ``delete``) are the API's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, segment_empty
from api.console import segment_form as builder_form
from api.console.contacts import masked
from api.deps import Acting, acting, db_session, require
from api.routes import segments as rest
from campaigns import forecasting, prediction_rules
from contacts import segments
from contacts.models import CONSENT_STATES, ENGAGEMENT_KINDS, Contact, ContactList, Segment
from contacts.schemas import SegmentIn, SegmentPatch
from core.accounts import Principal
from core.db import utcnow
from core.errors import ValidationFailed
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
SAMPLE_SIZE = 10
NAME = Form(min_length=1, max_length=200)
DESCRIPTION = Form("", max_length=2000)
DONE = {"saved": "The segment is saved.", "deleted": "The segment is deleted."}


async def _builder(request: Request) -> builder_form.Builder:
    """The posted rules: a dependency read on the event loop, so the routes stay plain ``def`` whose counts run in the
    threadpool (a count on the loop held every other request of the server while it ran)."""
    form = await request.form()
    return builder_form.from_form({key: [str(v) for v in form.getlist(key)] for key in form})


BUILDER = Depends(_builder)


def _choices(session: Session) -> dict[str, Any]:
    """What the builder's selects offer (amounts in the currency of the orders the predictions learn from)."""
    kinds, hints = builder_form.prediction_choices(forecasting.money(session).revenue)
    return {
        "fields": builder_form.FIELDS,
        "operators": builder_form.OPERATORS,
        "labels": builder_form.OPERATOR_LABELS,
        "joins": builder_form.JOINS,
        "no_value": builder_form.NO_VALUE,
        "consent_states": CONSENT_STATES,
        "engagement_kinds": ENGAGEMENT_KINDS,
        "prediction_kinds": kinds,
        "prediction_hints": hints,
        "attributes": segments.segmentable_attributes(session),
        "lists": session.scalars(select(ContactList).order_by(ContactList.name)).all(),
    }


def _preview(session: Session, builder: builder_form.Builder) -> dict[str, Any]:
    """The live count and first contacts of the builder's rules, or the problem with them."""
    try:
        rules = builder_form.to_rules(builder, segments.segmentable_attributes(session))
        total = segments.count(session, rules)
        ids = list(session.scalars(segments.validated(session, rules).limit(SAMPLE_SIZE)))
    except ValidationFailed as exc:
        return {"problem": builder_form.explain(exc, builder), "count": None, "samples": []}
    samples = session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)).all()
    # a kind nobody holds yet matches nobody whatever the threshold: say so, with why ("0 contacts" alone)
    unheld = [f"No contact has a prediction of “{builder_form.PREDICTION_LABELS[kind]}” yet, so that condition "
              f"matches nobody: {why}." for kind, why in prediction_rules.unheld(session, rules).items()]
    empty = segment_empty.why_empty(session, builder, segments.segmentable_attributes(session)) \
        if total == 0 and not unheld else []
    # contacts added since the last scoring hold none yet: a threshold leaves them out, which the count alone hid
    left_out = [(builder_form.PREDICTION_LABELS[gap.kind], gap)
                for gap in prediction_rules.left_out(session, rules, now=utcnow())]
    return {"problem": "", "count": total, "samples": samples, "masked": masked, "unheld": unheld, "empty": empty,
            "left_out": left_out}


@router.get("/segments", response_class=HTMLResponse)
def segments_page(
    request: Request,
    done: str = Query("", pattern="^(saved|deleted)?$"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """Every saved segment with its size right now."""
    rows = [(s, segments.count(session, s.rules)) for s in session.scalars(select(Segment).order_by(Segment.name))]
    return render(request, "console/segments.html", {"rows": rows, "done": DONE.get(done, "")}, principal=principal)


def _editor(request: Request, session: Session, principal: Principal, segment: Segment | None) -> HTMLResponse:
    builder = builder_form.Builder() if segment is None else builder_form.from_rules(segment.rules)
    return render(
        request,
        "console/segment.html",
        {"segment": segment, "builder": builder, "preview": _preview(session, builder) if builder else None,
         **_choices(session)},
        principal=principal,
    )


@router.get("/segments/new", response_class=HTMLResponse)
def new_segment(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return _editor(request, session, principal, None)


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def edit_segment(
    request: Request,
    segment_id: int,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    return _editor(request, session, principal, segments.get(session, segment_id))


@router.post("/segments/builder", response_class=HTMLResponse)
def redraw_builder(
    request: Request,
    action: str = Form("", max_length=40),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    posted: builder_form.Builder = BUILDER,
) -> HTMLResponse:
    """The builder after a field changed or a row or group was added or removed; the preview re-counts."""
    builder = builder_form.apply(posted, action)
    return render(request, "console/_segment_rules.html", {"builder": builder, **_choices(session)},
                  principal=principal, headers={"HX-Trigger": "rules-changed"})


@router.post("/segments/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
    builder: builder_form.Builder = BUILDER,
) -> HTMLResponse:
    """How many contacts the rules match now, and the first few (a problem in the rules is shown in place)."""
    return render(request, "console/_segment_preview.html", {"preview": _preview(session, builder)},
                  principal=principal)


@contextmanager
def _in_words(builder: builder_form.Builder) -> Iterator[None]:
    """A refused save says which row is wrong as the page numbers them (the action-error line shows it)."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed(builder_form.explain(exc, builder), errors=exc.errors) from exc


def _saved(done: str) -> Response:
    # HTMX follows HX-Location to the list, which says what was done
    return Response(status_code=204, headers={"HX-Location": f"/console/segments?done={done}"})


@router.post("/segments", response_class=HTMLResponse)
def create(name: str = NAME, description: str = DESCRIPTION, by: Acting = MARKETER,
           builder: builder_form.Builder = BUILDER) -> Response:
    with _in_words(builder):
        rules = builder_form.to_rules(builder, segments.segmentable_attributes(by.session))
        rest.create_segment(SegmentIn(name=name, description=description, rules=rules), by)
    return _saved("saved")


@router.post("/segments/{segment_id}", response_class=HTMLResponse)
def update(segment_id: int, name: str = NAME, description: str = DESCRIPTION, by: Acting = MARKETER,
           builder: builder_form.Builder = BUILDER) -> Response:
    with _in_words(builder):
        rules = builder_form.to_rules(builder, segments.segmentable_attributes(by.session))
        rest.update_segment(segment_id, SegmentPatch(name=name, description=description, rules=rules), by)
    return _saved("saved")


@router.post("/segments/{segment_id}/delete", response_class=HTMLResponse)
def delete(segment_id: int, by: Acting = MARKETER) -> Response:
    rest.delete_segment(segment_id, by)
    return _saved("deleted")
