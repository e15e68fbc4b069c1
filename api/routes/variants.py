"""AI variants with brand check (marketer): generate, check a person's text, translate, approve/reject."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import actor, db_session, require
from campaigns.schemas import CheckRequest, DecisionIn, TranslateRequest, VariantOut, VariantRequest
from campaigns.variants import service
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["variants"])
MARKETER = require(Role.MARKETER)


@router.post("/variants", status_code=201)
def generate_variants(
    body: VariantRequest, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(MARKETER)
) -> dict[str, Any]:
    """``n`` variants (best score first), each with ``path`` llm/offline and its brand check."""
    result = service.generate(session, body)
    return {
        "path": result.path,
        "fallback_reason": result.fallback_reason,
        "variants": [VariantOut.model_validate(v).model_dump() for v in result.variants],
    }


@router.post("/variants/check", response_model=VariantOut, status_code=201)
def check_variant(
    body: CheckRequest, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(MARKETER)
) -> VariantOut:
    """Brand-check a message written by a person."""
    return VariantOut.model_validate(service.check(session, body))


@router.get("/variants/{variant_id}", response_model=VariantOut)
def get_variant(
    variant_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(MARKETER)
) -> VariantOut:
    return VariantOut.model_validate(service.get(session, variant_id))


@router.post("/variants/{variant_id}/translate", response_model=list[VariantOut], status_code=201)
def translate_variant(
    variant_id: int,
    body: TranslateRequest,
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(MARKETER),
) -> list[VariantOut]:
    """Translations (LLM path only; 422 saying so when no LLM is configured)."""
    variant = service.get(session, variant_id)
    return [VariantOut.model_validate(v) for v in service.translate(session, variant, body.languages)]


def _decide(
    variant_id: int, body: DecisionIn, request: Request, session: Session, principal: Principal, approve: bool
) -> VariantOut:
    variant = service.decide(
        session, service.get(session, variant_id), approve=approve, by=principal.name, note=body.note
    )
    audit.record(
        session,
        actor=actor(request, principal),
        action="variant.approve" if approve else "variant.reject",
        target_type="variant",
        target_id=variant.id,
        diff={"status": variant.status, "score": variant.score, "note": body.note},
    )
    return VariantOut.model_validate(variant)


@router.post("/variants/{variant_id}/approve", response_model=VariantOut)
def approve_variant(
    variant_id: int,
    body: DecisionIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETER),
) -> VariantOut:
    return _decide(variant_id, body, request, session, principal, approve=True)


@router.post("/variants/{variant_id}/reject", response_model=VariantOut)
def reject_variant(
    variant_id: int,
    body: DecisionIn,
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETER),
) -> VariantOut:
    return _decide(variant_id, body, request, session, principal, approve=False)
