"""The brand profile page: what the business is called, how it writes, and the rules its texts follow.

The form posts with HTMX; a value the profile refuses comes back as the form with the reason under
the field. A valid one is saved through ``api.routes.brand.put_brand`` (audited ``brand.update``
with the changed fields) and the page reloads, so the new business name shows in the header too:
``campaigns.brand.business_name`` is the one place every page, template and variant reads it from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from agent.responder.prompts import LANGUAGE_NAMES
from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, posted_form, require
from api.routes import brand as rest
from campaigns.brand import get_profile
from campaigns.schemas import BrandIn, BrandOut
from campaigns.templates import FOOTERS, footer
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
EMOJI = {"none": "None: a text with an emoji fails the brand check",
         "some": "A few: more than two is flagged", "any": "Any number"}
LISTS = ("examples", "banned_terms", "required_terms")


def _lines(text: str) -> list[str]:
    """One entry per line, trimmed, blanks and repeats dropped (the order kept)."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def from_form(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The profile's fields as posted: text areas hold one entry per line, languages are checkboxes."""
    one = {key: (form.get(key) or [""])[0] for key in ("name", "voice", "emoji_policy", "max_segments",
                                                         "sentiment_min", "sentiment_max", "stop_number")}
    values: dict[str, Any] = {key: value.strip() for key, value in one.items()}
    values["voice"] = one["voice"].replace("\r\n", "\n").strip()
    values.update({key: _lines((form.get(key) or [""])[0]) for key in LISTS})
    values["languages"] = [code for code in form.get("languages", []) if code]
    return values


def _context(values: Mapping[str, Any], errors: Mapping[str, str], stop_number: str) -> dict[str, Any]:
    return {"values": values, "errors": errors, "emoji": EMOJI, "languages": LANGUAGE_NAMES,
            "footers": [(LANGUAGE_NAMES.get(code, code), footer(code, stop_number)) for code in FOOTERS]}


@router.get("/brand", response_class=HTMLResponse)
def brand_page(
    request: Request,
    done: str = Query("", pattern="^(saved)?$"),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """The profile as saved, in a form to change it."""
    profile = get_profile(session)
    values = BrandOut.model_validate(profile).model_dump()
    return render(request, "console/brand.html",
                  {**_context(values, {}, profile.stop_number), "done": "The brand profile is saved." if done else ""},
                  principal=principal)


@router.post("/brand", response_class=HTMLResponse)
def save(by: Acting = MARKETER, form: FormData = Depends(posted_form)) -> Response:
    """Saved and audited like ``PUT /api/v1/brand``; refused values come back under their fields."""
    values = from_form({key: [str(v) for v in form.getlist(key)] for key in form})
    try:
        body = BrandIn.model_validate(values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            errors.setdefault(str(error["loc"][0]), str(error["msg"]).removeprefix("Value error, "))
        return render(by.request, "console/_brand_form.html",
                      _context(values, errors, get_profile(by.session).stop_number), principal=by.principal)
    rest.put_brand(body, by)
    # a full load, so the header shows the new business name
    return Response(status_code=204, headers={"HX-Location": "/console/brand?done=saved"})
