"""The audit log (admin): filters, pagination and CSV export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import db_session, require
from api.schemas import Page
from core import audit
from core.accounts import Principal
from core.models import AuditEntry
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_type: str
    actor_id: str
    actor_name: str
    action: str
    target_type: str
    target_id: str
    diff: dict[str, Any]
    ip: str
    request_id: str


def _filters(
    actor_type: str | None = Query(None, description="user, api_key, system, cli or anonymous"),
    actor_id: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    return {
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "since": since,
        "until": until,
    }


def _out(entry: AuditEntry) -> AuditOut:
    return AuditOut.model_validate(entry, from_attributes=True)


@router.get("/audit", response_model=Page[AuditOut])
def list_audit(
    filters: dict[str, Any] = Depends(_filters),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.ADMIN)),
) -> Page[AuditOut]:
    stmt = audit.query(**filters)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.limit(limit).offset(offset))
    return Page[AuditOut](items=[_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/audit/export.csv")
def export_audit(
    filters: dict[str, Any] = Depends(_filters),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(require(Role.ADMIN)),
) -> Response:
    return Response(
        audit.to_csv(session.scalars(audit.query(**filters))),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="relais-audit.csv"'},
    )
