"""The brand check: rules, tone, style similarity and language match, folded into a score in [0, 1].

``score = 0.6 * rules + 0.25 * style + 0.15 * tone`` where ``rules`` is 1 minus 0.3 per failed
error rule and 0.1 per failed warning, ``style`` the best cosine similarity to the brand's example
messages (multilingual embeddings, so an example in another language still counts), ``tone`` 1
inside the brand's sentiment range and falling linearly outside. With no examples the style weight
goes to the rules. A variant with any failed error rule is capped at 0.49 and ``passed`` is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.language import SUPPORTED_LANGUAGES, detect_language
from agent.sentiment import analyze_sentiment_batch, load_sentiment_model
from campaigns.models import BrandProfile
from campaigns.variants.rules import RuleResult, all_rules, errors_and_warnings
from knowledge.embeddings import get_embedder

FAILED_CAP = 0.49
STYLE_WARN_BELOW = 0.3


@dataclass
class CheckResult:
    score: float
    passed: bool
    reasons: list[str]
    rules: list[RuleResult]
    sentiment: float
    style_similarity: float | None
    language: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "passed": self.passed, "reasons": self.reasons,
                "rules": [r.as_dict() for r in self.rules], "sentiment": self.sentiment,
                "style_similarity": self.style_similarity, "language": self.language, **self.extra}


def _tone(score: float, brand: BrandProfile) -> float:
    low, high = min(brand.sentiment_min, brand.sentiment_max), max(brand.sentiment_min, brand.sentiment_max)
    if low <= score <= high:
        return 1.0
    distance = low - score if score < low else score - high
    return max(0.0, 1.0 - distance)


def check_texts(
    texts: Sequence[str], language: str, brand: BrandProfile, *, marketing: bool = True
) -> list[CheckResult]:
    """Brand-check each text (batched: one embedding call for the texts and the brand's examples)."""
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
        rules = all_rules(text, language, brand, marketing=marketing)
        detected = detect_language(text, prior=None).language
        rules.append(RuleResult("language", detected == language, "error",
                                f"written in {detected}, expected {language}"))
        if brand.languages and language not in brand.languages:
            rules.append(RuleResult("brand_language", False, "warning",
                                    f"{language} is not one of the brand's languages ({', '.join(brand.languages)})"))
        tone_value = sentiments[i].score
        tone = _tone(tone_value, brand)
        rules.append(RuleResult("tone", tone == 1.0, "warning",
                                f"sentiment {tone_value:+.2f}; the brand's range is "
                                f"{brand.sentiment_min:+.2f}..{brand.sentiment_max:+.2f}"))
        style = float(np.clip(similarity[i], 0.0, 1.0)) if similarity is not None else None
        if style is not None:
            rules.append(RuleResult("style", style >= STYLE_WARN_BELOW, "warning",
                                    f"similarity to the brand's examples {style:.2f}"))
        errors, warnings = errors_and_warnings(rules)
        rule_part = max(0.0, 1.0 - 0.3 * errors - 0.1 * warnings)
        score = 0.6 * rule_part + 0.25 * style + 0.15 * tone if style is not None else 0.85 * rule_part + 0.15 * tone
        if errors:
            score = min(score, FAILED_CAP)
        reasons = [r.detail for r in rules if not r.passed]
        if not reasons:
            reasons = ["passes every rule" + (f"; style similarity {style:.2f}" if style is not None else "")]
        results.append(CheckResult(score=round(score, 3), passed=errors == 0, reasons=reasons, rules=rules,
                                   sentiment=round(tone_value, 3), style_similarity=None if style is None
                                   else round(style, 3), language=detected))
    return results


def supported_language(language: str) -> bool:
    return language in SUPPORTED_LANGUAGES
