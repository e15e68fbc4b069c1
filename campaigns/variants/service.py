"""Variants: generate (LLM or offline), check a person's text, edit, translate, approve into a template or reject.

Every stored variant carries its brand check (``check``), ``score`` and ``path``: ``llm``,
``offline``, ``human`` (written by a person) or ``translation``; the offline generator's ``angle``
and, once approved, the ``template_id`` it became. When the LLM is configured but fails (timeout,
HTTP error, unreadable answer) that language and the ones after it are served offline and the
answer says why (``fallback_reason``). The callers (API, console) audit every change a person makes: edit,
approve, reject.

What the LLM writes (variants, translations) is put in GSM-7 where look-alikes do it without changing a
word (``channels.encoding.gsm7_lookalikes``: curly quotes, "À" as "A"): one character outside GSM-7
sends the whole text as UCS-2, often twice the segments. The check then shows the model's own text's
segments beside the variant's; a translation's, its source's. A person's text is stored as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.llm import LlmError, get_llm
from campaigns.brand import business_name, get_profile
from campaigns.models import Template, Variant
from campaigns.schemas import TemplateIn
from campaigns.service import save_template
from campaigns.variants import llm, offline
from campaigns.variants.brief import Brief, parse_brief
from campaigns.variants.check import check_texts, supported_language
from campaigns.variants.grammar import GRAMMARS, language_name
from campaigns.variants.rules import Original
from campaigns.variants.schemas import CheckRequest, VariantRequest
from channels.encoding import gsm7_lookalikes
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.settings import get_settings

TRANSLATION_UNAVAILABLE = ("translation needs the LLM: set RELAIS_LLM_BASE_URL and RELAIS_LLM_MODEL; "
                           "the offline path cannot translate")


@dataclass(frozen=True)
class Generated:
    """``path``: ``llm``, ``offline`` or ``mixed`` (the LLM failed for some languages only)."""

    variants: list[Variant]
    path: str
    fallback_reason: str
    notes: list[str]


def _language(language: str) -> str:
    if not supported_language(language):
        raise ValidationFailed(f"language {language!r} is not supported (en, fr, es, de, it, pt)",
                               errors=[{"field": "language"}])
    return language


def _store(session: Session, texts: list[str], *, language: str, brief: str, path: str,
           angles: list[str] | None = None, parent_id: int | None = None, marketing: bool = True,
           originals: list[Original | None] | None = None) -> list[Variant]:
    brand = get_profile(session)
    checks = check_texts(texts, language, brand, marketing=marketing, originals=originals or ())
    stored = []
    for i, (text, result) in enumerate(zip(texts, checks, strict=True)):
        variant = Variant(text=text, language=language, brief=brief, path=path, score=result.score,
                          check=result.as_dict(), angle=angles[i] if angles else "", status="pending",
                          parent_id=parent_id)
        session.add(variant)
        stored.append(variant)
    session.flush()
    return stored


def _in_gsm7(written: list[str], language: str) -> tuple[list[str], list[Original | None]]:
    """The model's texts with their look-alikes in place (repeats dropped), and the model's own text for
    each one that changed ("as the model wrote it")."""
    texts: dict[str, Original | None] = {}
    for text in written:
        kept = gsm7_lookalikes(text, language)
        texts.setdefault(kept, Original(text, "as the model wrote it") if kept != text else None)
    return list(texts), list(texts.values())


def _product_notes(brief: Brief, languages: list[str]) -> list[str]:
    """Languages whose variants could not name the product as given (a common noun in another language)."""
    if brief.product is None or brief.product.language is None:
        return []
    elsewhere = [lang for lang in languages if brief.product_in(lang) is None]
    if not elsewhere:
        return []
    generic = "; ".join(f"{language_name(lang)} “{GRAMMARS[lang].generic_product}”" for lang in elsewhere)
    return [f"“{brief.product.text}” reads as {language_name(brief.product.language)}, and the offline generator "
            f"does not translate: those variants say {generic}. Give the product's name per language to use it."]


def generate(session: Session, request: VariantRequest, *, today: date | None = None) -> Generated:
    """``request.n`` brand-checked variants per language, best score first within each language."""
    languages = [_language(lang) for lang in request.languages]
    brand = get_profile(session)
    client = get_llm(get_settings())
    brief = parse_brief(request.brief, today=today or utcnow().date(), offer=request.offer,
                        product=request.product, product_names=request.product_names, deadline=request.deadline,
                        link=request.link)
    paths: set[str] = set()
    reason = "no LLM configured" if client is None else ""
    offline_languages: list[str] = []
    notes: list[str] = []
    out: list[Variant] = []
    for language in languages:
        texts: list[str] = []
        if client is not None:
            try:
                texts = llm.generate(client, brand, request, language=language)
            except LlmError as exc:
                reason = f"LLM unavailable ({exc.kind}: {exc.detail})"
                client = None  # the other languages do not wait for it again
        if texts:
            texts, originals = _in_gsm7(texts, language)
            stored = _store(session, texts, language=language, brief=request.brief, path="llm", originals=originals)
        else:
            composed = offline.compose(brief, language=language, n=request.n, brand_name=business_name(session),
                                       tone=request.tone, required_terms=brand.required_terms,
                                       stop_number=brand.stop_number, max_segments=brand.max_segments)
            stored = _store(session, [c.text for c in composed], language=language, brief=request.brief,
                            path="offline", angles=[c.angle for c in composed])
            offline_languages.append(language)
            if short := sum(c.without_link for c in composed):
                limit = f"{brand.max_segments} segment{'s' if brand.max_segments > 1 else ''}"
                notes.append(f"{language_name(language)}: {short} of {len(composed)} variants leave out the link to "
                             f"stay within {limit} with the opt-out line.")
        paths.add(stored[0].path if stored else "offline")
        out += sorted(stored, key=lambda v: -v.score)
    if offline_languages:
        notes = [*brief.notes, *_product_notes(brief, offline_languages), *notes]
    path = paths.pop() if len(paths) == 1 else "mixed"
    return Generated(variants=out, path=path, fallback_reason=reason if offline_languages else "", notes=notes)


def check(session: Session, request: CheckRequest) -> Variant:
    """Brand-check a text written by a person; stored as a ``human`` variant."""
    language = _language(request.language)
    return _store(session, [request.text], language=language, brief="", path="human",
                  marketing=request.kind == "marketing")[0]


def recheck(session: Session, text: str, language: str) -> dict[str, object]:
    """The brand check of ``text`` without storing anything (the console's live check while editing)."""
    return check_texts([text], _language(language), get_profile(session))[0].as_dict()


def get(session: Session, variant_id: int) -> Variant:
    found = session.get(Variant, variant_id)
    if found is None:
        raise NotFound(f"variant {variant_id} not found")
    return found


def recent(session: Session, *, status: str | None = None, limit: int = 50) -> list[Variant]:
    """The newest variants first, optionally only those with ``status``."""
    query = select(Variant).order_by(Variant.id.desc()).limit(limit)
    if status:
        query = query.where(Variant.status == status)
    return list(session.scalars(query))


def _pending(variant: Variant) -> None:
    if variant.status != "pending":
        raise Conflict(f"variant {variant.id} is already {variant.status}")


def edit(session: Session, variant: Variant, text: str) -> Variant:
    """A person's new text for a pending variant, brand-checked again (its path and angle stay)."""
    _pending(variant)
    result = check_texts([text], variant.language, get_profile(session))[0]
    variant.text, variant.score, variant.check = text, result.score, result.as_dict()
    session.flush()
    return variant


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
            text = gsm7_lookalikes(llm.translate(client, brand, text=variant.text, language=language), language)
        except LlmError as exc:
            raise ValidationFailed(f"translation into {language} failed: the LLM is unavailable "
                                   f"({exc.kind}: {exc.detail})") from None
        out += _store(session, [text], language=language, brief=variant.brief, path="translation",
                      parent_id=variant.id, originals=[Original(variant.text)])
    return out


def approve(session: Session, variant: Variant, *, by: str, note: str, template_name: str = "") -> Template:
    """Approve a pending variant: it becomes a marketing template in its language (returned).

    Raises:
        Conflict: the variant was already decided.
        ValidationFailed: its text is not a valid template (an unknown ``{{ variable }}``).
    """
    _pending(variant)
    kind = variant.angle or variant.path
    name = template_name.strip() or f"Variant #{variant.id} ({variant.language}, {kind})"
    template = save_template(session, TemplateIn(name=name, kind="marketing", language=variant.language,
                                                 body=variant.text))
    variant.status, variant.decided_by, variant.decision_note = "approved", by, note
    variant.template_id = template.id
    session.flush()
    return template


def reject(session: Session, variant: Variant, *, by: str, note: str) -> Variant:
    """Reject a pending variant, with the person's reason (``note``, may be empty)."""
    _pending(variant)
    variant.status, variant.decided_by, variant.decision_note = "rejected", by, note
    session.flush()
    return variant
