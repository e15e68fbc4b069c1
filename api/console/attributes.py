"""Contact attributes in the console (marketers): the declared custom fields, declare, change, delete.

Templates read an attribute as ``{{ attributes.NAME }}``, imports fill it from a column and segments
filter on it when it is segmentable; until now a marketer could declare one only through the API or
the CLI. Every change goes through the REST route functions of ``api.routes.contacts`` (checks and
audit entries ``contact_attribute.define|update|delete`` are the API's own); a deletion is refused
while a segment, template or campaign reads the attribute (``campaigns.attribute_use``), and the
page lists those users beside each attribute so the refusal is never a surprise.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from api.routes import contacts as rest
from campaigns import attribute_use
from contacts import attributes as attrs
from contacts.models import AttributeDefinition
from contacts.schemas import AttributeIn, AttributePatch
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
TYPES = {"string": "Text", "number": "Number", "boolean": "Yes / no", "date": "Date (YYYY-MM-DD)"}
NAME = Form(min_length=1, max_length=64)
TYPE = Form("string", pattern="^(string|number|boolean|date)$")
DESCRIPTION = Form("", max_length=500)


def _context(session: Session, done: str) -> dict[str, Any]:
    rows = [(d, attribute_use.users(session, d.name))
            for d in session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.name))]
    return {"rows": rows, "types": TYPES, "done": done}


def _list(by: Acting, done: str) -> HTMLResponse:
    return render(by.request, "console/_attributes.html", _context(by.session, done), principal=by.principal)


@router.get("/attributes", response_class=HTMLResponse)
def attributes_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """Every declared attribute with its type, whether segments may filter on it and what reads it."""
    return render(request, "console/attributes.html", _context(session, ""), principal=principal)


@router.post("/attributes", response_class=HTMLResponse)
def declare(name: str = NAME, type: str = TYPE, description: str = DESCRIPTION, segmentable: str = Form(""),
            by: Acting = MARKETER) -> HTMLResponse:
    body = AttributeIn(name=name.strip(), type=type, description=description.strip(),  # type: ignore[arg-type]
                       segmentable=segmentable == "on")
    found = rest.define_attribute(body, by)
    return _list(by, f"“{found.name}” is declared: templates read it as {{{{ attributes.{found.name} }}}}.")


@router.post("/attributes/{name}", response_class=HTMLResponse)
def change(name: str, type: str = TYPE, description: str = DESCRIPTION, segmentable: str = Form(""),
           by: Acting = MARKETER) -> HTMLResponse:
    before = attrs.get(by.session, name)
    wanted = AttributePatch(type=type, description=description.strip(), segmentable=segmentable == "on")  # type: ignore[arg-type]
    if (wanted.type, wanted.description, wanted.segmentable) == (before.type, before.description, before.segmentable):
        return _list(by, "Nothing changed.")  # nothing to audit either
    rest.update_attribute(name, wanted, by)
    return _list(by, f"“{name}” is updated.")


@router.post("/attributes/{name}/delete", response_class=HTMLResponse)
def delete(name: str, by: Acting = MARKETER) -> HTMLResponse:
    rest.delete_attribute(name, by)
    return _list(by, f"“{name}” is deleted. Contacts keep their values until they are next changed.")
