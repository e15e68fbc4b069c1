"""AI variants with brand check (marketer): generate, list, check a person's text, edit, translate,
approve into a template, reject. Every stored variant, edit and decision is audited; the console calls
these functions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import Acting, acting, db_session, require
from campaigns.models import Variant
from campaigns.variants import service
from campaigns.variants.schemas import CheckRequest, DecisionIn, EditIn, TranslateRequest, VariantOut, VariantRequest
from core import audit
from core.accounts import Principal
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["variants"])
MARKETER = require(Role.MARKETER)
ACTING = acting(Role.MARKETER)


@router.post("/variants", status_code=201)
def generate_variants(body: VariantRequest, by: Acting = ACTING) -> dict[str, Any]:
    """``n`` variants per language (best score first within each), each with ``path`` (llm / offline),
    its ``angle`` and its brand check; ``notes`` says what of the brief the offline path could not use."""
    result = service.generate(by.session, body)
    _audit_created(by, result.variants)
    return {
        "path": result.path,
        "fallback_reason": result.fallback_reason,
        "notes": result.notes,
        "variants": [VariantOut.model_validate(v).model_dump() for v in result.variants],
    }


@router.get("/variants", response_model=list[VariantOut])
def list_variants(
    status: str | None = Query(None, pattern="^(pending|approved|rejected)$"),
    limit: int = Query(50, ge=1, le=200),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(MARKETER),
) -> list[VariantOut]:
    """The newest variants first."""
    return [VariantOut.model_validate(v) for v in service.recent(session, status=status, limit=limit)]


@router.post("/variants/check", response_model=VariantOut, status_code=201)
def check_variant(body: CheckRequest, by: Acting = ACTING) -> VariantOut:
    """Brand-check a message written by a person (stored as a ``human`` variant)."""
    variant = service.check(by.session, body)
    _audit_created(by, [variant])
    return VariantOut.model_validate(variant)


@router.get("/variants/{variant_id}", response_model=VariantOut)
def get_variant(
    variant_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(MARKETER)
) -> VariantOut:
    return VariantOut.model_validate(service.get(session, variant_id))


@router.patch("/variants/{variant_id}", response_model=VariantOut)
def edit_variant(variant_id: int, body: EditIn, by: Acting = ACTING) -> VariantOut:
    """A new text for a pending variant, checked again (409 once decided).

    The audit keeps both wordings: marketing copy, not personal data (``text`` itself is a key the
    audit log redacts, since message bodies may carry some).
    """
    variant = service.get(by.session, variant_id)
    before = {"wording": variant.text, "score": variant.score}
    service.edit(by.session, variant, body.text)
    by.audit("variant.edit", "variant", variant.id,
             audit.changes(before, {"wording": variant.text, "score": variant.score}))
    return VariantOut.model_validate(variant)


@router.post("/variants/{variant_id}/translate", response_model=list[VariantOut], status_code=201)
def translate_variant(variant_id: int, body: TranslateRequest, by: Acting = ACTING) -> list[VariantOut]:
    """Translations (LLM path only; 422 saying so when no LLM is configured)."""
    translations = service.translate(by.session, service.get(by.session, variant_id), body.languages)
    _audit_created(by, translations)
    return [VariantOut.model_validate(v) for v in translations]


def _audit_created(by: Acting, variants: list[Variant]) -> None:
    """``variant.create`` per stored variant: who drafted which pending variant (a variant has no author column)."""
    for variant in variants:
        source = {"translates": variant.parent_id} if variant.parent_id else {}
        by.audit("variant.create", "variant", variant.id,
                 {"path": variant.path, "language": variant.language, "angle": variant.angle,
                  "score": variant.score, **source})


@router.post("/variants/{variant_id}/approve", response_model=VariantOut)
def approve_variant(variant_id: int, body: DecisionIn, by: Acting = ACTING) -> VariantOut:
    """Approve: the text becomes a marketing template (``template_id``); 409 once decided."""
    variant = service.get(by.session, variant_id)
    template = service.approve(by.session, variant, by=by.principal.name, note=body.note,
                               template_name=body.template_name)
    by.audit("template.create", "template", template.id,
             {"name": template.name, "kind": template.kind, "variant_id": variant.id})
    by.audit("variant.approve", "variant", variant.id,
             {"status": variant.status, "score": variant.score, "note": body.note, "template_id": template.id})
    return VariantOut.model_validate(variant)


@router.post("/variants/{variant_id}/reject", response_model=VariantOut)
def reject_variant(variant_id: int, body: DecisionIn, by: Acting = ACTING) -> VariantOut:
    """Reject, with an optional reason (``note``); 409 once decided."""
    variant = service.reject(by.session, service.get(by.session, variant_id), by=by.principal.name, note=body.note)
    by.audit("variant.reject", "variant", variant.id,
             {"status": variant.status, "score": variant.score, "note": body.note})
    return VariantOut.model_validate(variant)
