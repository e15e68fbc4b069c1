"""Public tracked-link redirect ``/l/{code}``: records the click, answers 302 to the target."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from api.deps import db_session
from campaigns.links import record_click

router = APIRouter(tags=["links"])
PUBLIC_PATHS = frozenset({"/l/{code}"})


@router.get("/l/{code}", include_in_schema=False)
def follow_link(code: str, session: Session = Depends(db_session, scope="function")) -> RedirectResponse:
    """A forged or unknown code answers 404 (problem+json) and records nothing."""
    return RedirectResponse(record_click(session, code=code), status_code=302)
