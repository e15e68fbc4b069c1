"""The analyst's "Predictions" page: every prediction kind summarised across contacts, no contact named.

The figures are ``intelligence.summary``'s, as ``GET /api/v1/intelligence/summary`` gives them;
this module only puts them in words (chances as percentages, days and hours as such, amounts with the currency
of the shop's orders, which the models learn from: "13,210.55" left an analyst guessing whether it was euros).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.console import ConsoleRoute, render, views
from api.deps import db_session, require
from campaigns import forecasting, prediction_rules
from core.accounts import Principal
from core.rbac import Role
from eval.metrics import NOT_APPLICABLE
from intelligence import summary

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
ANALYSTS = require(Role.ANALYST)


def shown(kind: summary.KindSummary, value: float | None, currency: str = "") -> str:
    """One figure of ``kind`` as the page prints it, an amount followed by ``currency``; ``n/a`` when there is
    none to show."""
    if value is None:
        return NOT_APPLICABLE
    if kind.chance:  # a chance is never printed as a certainty
        percent = round(value * 100)
        return "over 99 %" if percent >= 100 and value < 1 else "under 1 %" if percent <= 0 < value else f"{percent} %"
    if kind.kind == "best_hour":
        return f"{round(value):02d}:00"
    if kind.kind == "next_purchase_days":
        days = round(value)
        return f"{days:,} day{'' if days == 1 else 's'}"
    return f"{value:,.2f} {currency}".rstrip() if kind.kind in summary.AMOUNTS else f"{value:,.2f}"


@router.get("/predictions", response_class=HTMLResponse)
def predictions_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(ANALYSTS),
) -> HTMLResponse:
    kinds = summary.summarise(session)
    return render(
        request,
        "console/predictions.html",
        {
            "kinds": kinds,
            "scored": [k for k in kinds if k.contacts],
            # "none yet" alone left the analyst to guess whether anything would ever fill the row
            "missing": {k.kind: prediction_rules.why_none(session, k.kind) for k in kinds if not k.contacts},
            "shown": shown,
            "currency": forecasting.money(session).revenue,
            "minimum": summary.MIN_CONTACTS,
            "status": views.agent_status(session, principal),
        },
        principal=principal,
    )
