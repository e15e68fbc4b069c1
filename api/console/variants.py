"""The marketer's variants: a brief in, brand-checked variants out, each edited, approved or rejected.

The brief form asks for the languages, how many variants, the tone and the fields the offline
generator slots into its phrases (offer, product, deadline, link). Each variant shows which path
wrote it (LLM or offline), its angle, score and reasons; its text is checked again as it is
typed (``/check``, nothing stored) and saved, approved (it becomes a template) or rejected through
the REST route functions of ``api.routes.variants``, so the audit entries (``variant.edit`` /
``approve`` / ``reject``, ``template.create``) are the API's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from agent.llm import get_llm
from api.console import ConsoleRoute, render
from api.deps import Acting, acting, db_session, require
from api.routes import variants as rest
from campaigns.brand import get_profile
from campaigns.variants import service
from campaigns.variants.grammar import GRAMMARS, language_name
from campaigns.variants.schemas import TONES, DecisionIn, EditIn, VariantOut, VariantRequest
from core.accounts import Principal
from core.errors import ValidationFailed
from core.rbac import Role

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute, include_in_schema=False)
MARKETERS = require(Role.MARKETER)
MARKETER = acting(Role.MARKETER)
PENDING_SHOWN = 30
DECIDED_SHOWN = 10
PATHS = {"offline": "Offline generator", "llm": "LLM", "human": "Written by a person", "translation": "LLM translation",
         "mixed": "LLM and offline generator"}
ANGLES = {"occasion": "Occasion", "urgency": "Urgency", "benefit": "Benefit", "question": "Question",
          "social_proof": "Social proof", "exclusivity": "Just for you", "news": "News"}
TONE_LABELS = {"friendly": "Friendly", "premium": "Premium (calm)", "playful": "Playful",
               "direct": "Direct"}
TEXT = Form(min_length=1, max_length=2000)
NOTE = Form("", max_length=500)


def _labels() -> dict[str, Any]:
    return {"language_name": language_name, "paths": PATHS, "angles": ANGLES}


def _card(by: Acting, variant: VariantOut, *, saved: str = "") -> HTMLResponse:
    return render(by.request, "console/_variant.html", {"v": variant, "saved": saved, **_labels()},
                  principal=by.principal)


def _request(**fields: Any) -> VariantRequest:
    """The brief as the API takes it; a refused value is a 422 naming the field, as in the API."""
    try:
        return VariantRequest(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}", errors=[{"field": where, "message": first["msg"]}]) from None


@router.get("/variants", response_class=HTMLResponse)
def variants_page(
    request: Request,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(MARKETERS),
) -> HTMLResponse:
    """The brief form, the variants waiting for a decision, and the latest decisions."""
    brand = get_profile(session)
    pending = [VariantOut.model_validate(v) for v in service.recent(session, status="pending", limit=PENDING_SHOWN)]
    decided = [VariantOut.model_validate(v) for v in service.recent(session, limit=PENDING_SHOWN + DECIDED_SHOWN)
               if v.status != "pending"][:DECIDED_SHOWN]
    client = get_llm(request.app.state.settings)
    return render(request, "console/variants.html", {
        "languages": list(GRAMMARS),
        "chosen": [lang for lang in brand.languages if lang in GRAMMARS] or ["en"],
        "tones": {tone: TONE_LABELS[tone] for tone in TONES},
        "llm_model": client.model if client is not None else "",
        "variants": pending, "decided": decided, "generated": None,
        **_labels(),
    }, principal=principal)


@router.post("/variants/generate", response_class=HTMLResponse)
def generate(
    brief: str = Form(min_length=3, max_length=2000),
    languages: list[str] = Form([]),
    n: int = Form(3, ge=1, le=10),
    tone: str = Form("friendly"),
    offer: str = Form("", max_length=200),
    product: str = Form("", max_length=120),
    deadline: str = Form("", max_length=60),
    link: str = Form("", max_length=300),
    by: Acting = MARKETER,
) -> HTMLResponse:
    """Variants for the brief in each chosen language (``POST /api/v1/variants``, audited there), each as an
    editable card."""
    if not languages:
        raise ValidationFailed("Choose at least one language.", errors=[{"field": "languages"}])
    body = _request(brief=brief, languages=languages, n=n, tone=tone, offer=offer, product=product,
                    deadline=deadline, link=link)
    generated = rest.generate_variants(body, by)
    variants = [VariantOut.model_validate(v) for v in generated["variants"]]
    return render(by.request, "console/_variant_results.html",
                  {"variants": variants, "generated": generated, **_labels()}, principal=by.principal)


@router.post("/variants/{variant_id}/check", response_class=HTMLResponse)
def check(variant_id: int, text: str = TEXT, by: Acting = MARKETER) -> HTMLResponse:
    """The brand check of the text as typed (nothing is stored until it is saved or approved)."""
    variant = service.get(by.session, variant_id)
    return render(by.request, "console/_variant_check.html",
                  {"c": service.recheck(by.session, text, variant.language), "v": variant}, principal=by.principal)


@router.post("/variants/{variant_id}/edit", response_class=HTMLResponse)
def edit(variant_id: int, text: str = TEXT, by: Acting = MARKETER) -> HTMLResponse:
    """Save a new text (audited ``variant.edit``) and show the card again."""
    variant = rest.edit_variant(variant_id, EditIn(text=text), by)
    return _card(by, variant, saved="Your edit is saved and checked again.")


@router.post("/variants/{variant_id}/approve", response_class=HTMLResponse)
def approve(variant_id: int, text: str = TEXT, template_name: str = Form("", max_length=200),
            by: Acting = MARKETER) -> HTMLResponse:
    """Approve the text in the box (saved first when it was edited): it becomes a template."""
    if text != service.get(by.session, variant_id).text:
        rest.edit_variant(variant_id, EditIn(text=text), by)
    return _card(by, rest.approve_variant(variant_id, DecisionIn(template_name=template_name), by))


@router.post("/variants/{variant_id}/reject", response_class=HTMLResponse)
def reject(variant_id: int, note: str = NOTE, by: Acting = MARKETER) -> HTMLResponse:
    """Reject, with the reason given (audited ``variant.reject``)."""
    return _card(by, rest.reject_variant(variant_id, DecisionIn(note=note), by))
