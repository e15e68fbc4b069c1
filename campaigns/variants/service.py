"""Variants: generate (LLM or offline), check a person's text, translate, approve or reject.

Every stored variant carries its brand check (``check``), ``score`` and ``path``: ``llm``,
``offline``, ``human`` (written by a person) or ``translation``. When the LLM is configured but
fails (timeout, HTTP error, unreadable answer) the request is served offline and the response says
why (``fallback_reason``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from agent.language import detect_language
from agent.llm import LlmError, get_llm
from campaigns.brand import business_name, get_profile
from campaigns.models import Variant
from campaigns.schemas import CheckRequest, VariantRequest
from campaigns.variants import llm, offline
from campaigns.variants.check import check_texts, supported_language
from core.errors import Conflict, NotFound, ValidationFailed
from core.settings import get_settings

TRANSLATION_UNAVAILABLE = ("translation needs the LLM: set RELAIS_LLM_BASE_URL and RELAIS_LLM_MODEL; "
                           "the offline path cannot translate")


@dataclass(frozen=True)
class Generated:
    variants: list[Variant]
    path: str
    fallback_reason: str


def _language(language: str) -> str:
    if not supported_language(language):
        raise ValidationFailed(f"language {language!r} is not supported (en, fr, es, de, it, pt)",
                               errors=[{"field": "language"}])
    return language


def _store(session: Session, texts: list[str], *, language: str, brief: str, path: str,
           parent_id: int | None = None, marketing: bool = True) -> list[Variant]:
    brand = get_profile(session)
    checks = check_texts(texts, language, brand, marketing=marketing)
    stored = []
    for text, result in zip(texts, checks, strict=True):
        variant = Variant(text=text, language=language, brief=brief, path=path, score=result.score,
                          check=result.as_dict(), status="pending", parent_id=parent_id)
        session.add(variant)
        stored.append(variant)
    session.flush()
    return stored


def generate(session: Session, request: VariantRequest) -> Generated:
    """``n`` brand-checked variants, best score first."""
    language = _language(request.language)
    brand = get_profile(session)
    client = get_llm(get_settings())
    texts: list[str] = []
    path, reason = "offline", "no LLM configured"
    if client is not None:
        try:
            texts = llm.generate(client, brand, brief=request.brief, language=language, n=request.n,
                                 goal=request.goal, offer=request.offer, audience=request.audience)
            path, reason = "llm", ""
        except LlmError as exc:
            reason = f"LLM unavailable ({exc.kind}: {exc.detail})"
    if not texts:
        same_language = [e for e in brand.examples if detect_language(e).language == language]
        texts = offline.compose(brief=request.brief, language=language, n=request.n, examples=same_language,
                                brand_name=business_name(session), offer=request.offer, goal=request.goal,
                                audience=request.audience)
    variants = _store(session, texts, language=language, brief=request.brief, path=path)
    variants.sort(key=lambda v: -v.score)
    return Generated(variants=variants, path=path, fallback_reason=reason)


def check(session: Session, request: CheckRequest) -> Variant:
    """Brand-check a text written by a person; stored as a ``human`` variant."""
    language = _language(request.language)
    return _store(session, [request.text], language=language, brief="", path="human",
                  marketing=request.kind == "marketing")[0]


def get(session: Session, variant_id: int) -> Variant:
    found = session.get(Variant, variant_id)
    if found is None:
        raise NotFound(f"variant {variant_id} not found")
    return found


def translate(session: Session, variant: Variant, languages: list[str]) -> list[Variant]:
    """The variant in each language (LLM only), each brand-checked in its language.

    Raises:
        ValidationFailed: no LLM configured (offline translation is unavailable) or it failed.
    """
    client = get_llm(get_settings())
    if client is None:
        raise ValidationFailed(TRANSLATION_UNAVAILABLE,
                               errors=[{"field": "languages", "message": TRANSLATION_UNAVAILABLE}])
    brand = get_profile(session)
    out = []
    for language in dict.fromkeys(_language(lang) for lang in languages):
        try:
            text = llm.translate(client, brand, text=variant.text, language=language)
        except LlmError as exc:
            raise ValidationFailed(f"translation into {language} failed: the LLM is unavailable "
                                   f"({exc.kind}: {exc.detail})") from None
        out += _store(session, [text], language=language, brief=variant.brief, path="translation",
                      parent_id=variant.id)
    return out


def decide(session: Session, variant: Variant, *, approve: bool, by: str, note: str) -> Variant:
    """Approve or reject a pending variant (the caller audits it)."""
    if variant.status != "pending":
        raise Conflict(f"variant {variant.id} is already {variant.status}")
    variant.status = "approved" if approve else "rejected"
    variant.decided_by = by
    variant.decision_note = note
    session.flush()
    return variant
