"""QA reports published by ``relais eval run`` (role ``analyst``): list with trends, JSON, HTML page.

A report id is ``<suite>/<timestamp>``, so ``GET /api/v1/eval/reports/<id>`` reads naturally.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import db_session, require
from core.accounts import Principal
from core.rbac import Role
from eval.store import list_reports, read_report, report_html

router = APIRouter(prefix="/api/v1", tags=["eval"])

# the page is our own template (autoescaped); it needs nothing but its inline styles
_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class ReportOut(BaseModel):
    id: str
    suite: str
    created_at: str
    passed: bool
    summary: dict[str, Any]
    trend: dict[str, float]
    regressions: list[str]


@router.get("/eval/reports", response_model=list[ReportOut])
def reports(
    suite: str | None = None,
    principal: Principal = Depends(require(Role.ANALYST)),
    session: Session = Depends(db_session, scope="function"),
) -> list[ReportOut]:
    """Stored reports, newest first, each with its change since the previous run of its suite."""
    return [ReportOut(**vars(e)) for e in list_reports(session, suite)]


@router.get("/eval/reports/{suite}/{stamp}")
@router.get("/eval/reports/{suite}/{stamp}/report.json")  # report.html's relative "report.json" link, when served
def report(
    suite: str,
    stamp: str,
    principal: Principal = Depends(require(Role.ANALYST)),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """The full ``report.json`` (also at ``…/report.json``, where ``report.html``'s download link points)."""
    return read_report(session, f"{suite}/{stamp}")


@router.get("/eval/reports/{suite}/{stamp}/html", response_class=HTMLResponse)
def report_page(
    suite: str,
    stamp: str,
    principal: Principal = Depends(require(Role.ANALYST)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    """The ``report.html`` page QA reads."""
    html = report_html(session, f"{suite}/{stamp}")
    return HTMLResponse(html, headers={"Content-Security-Policy": _HTML_POLICY})
