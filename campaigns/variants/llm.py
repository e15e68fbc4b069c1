"""Variant generation and translation through the configured OpenAI-compatible LLM (``agent.llm``).

The model is asked for a JSON object ``{"variants": ["...", ...]}``; a numbered or bulleted list is
accepted too, because small local models often ignore the format. Any failure raises
``agent.llm.LlmError`` so the caller falls back to the offline path.
"""

from __future__ import annotations

import json
import re

from agent.llm import ChatMessage, LlmClient, LlmError
from campaigns.models import BrandProfile
from campaigns.variants.grammar import language_name
from campaigns.variants.schemas import VariantRequest

_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*(.+)$")


def _system(brand: BrandProfile) -> str:
    lines = [f"You write SMS marketing messages for {brand.name or 'the brand'}."]
    if brand.voice:
        lines.append(f"Brand voice: {brand.voice}")
    if brand.examples:
        lines.append("Messages the brand has sent:\n" + "\n".join(f"- {e}" for e in brand.examples[:8]))
    if brand.banned_terms:
        lines.append(f"Never use: {', '.join(brand.banned_terms)}.")
    if brand.required_terms:
        lines.append(f"Always include: {', '.join(brand.required_terms)}.")
    lines.append({"none": "Use no emoji.", "some": "At most two emoji.", "any": "Emoji are fine."}[brand.emoji_policy])
    lines.append(f"Keep each message under {brand.max_segments * 150} characters. No ALL CAPS, no '!!!', no "
                 "link shorteners, nothing about alcohol, tobacco, firearms, sex or hate. Do not add an "
                 "opt-out line: it is appended automatically.")
    lines.append("Use only characters of the GSM-7 SMS alphabet where the language allows: straight quotes and "
                 "apostrophes, no accent on a capital letter. One character outside it doubles the cost.")
    return "\n".join(lines)


def parse_list(text: str) -> list[str]:
    """Variants from the model's answer: JSON ``{"variants": [...]}``, a JSON list, or a numbered list."""
    start, end = text.find("{"), text.rfind("}")
    candidates = [text[start:end + 1]] if 0 <= start < end else []
    if text.strip().startswith("["):
        candidates.append(text.strip())
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        items = data.get("variants") if isinstance(data, dict) else data
        if isinstance(items, list):
            return [str(i).strip() for i in items if str(i).strip()]
    found = [m.group(1).strip().strip('"') for line in text.splitlines() if (m := _LIST_ITEM.match(line))]
    return [f for f in found if f]


def generate(client: LlmClient, brand: BrandProfile, request: VariantRequest, *, language: str) -> list[str]:
    """``request.n`` variants in ``language`` from the model; raises ``LlmError`` when it fails or answers
    nothing usable. The brief goes in as written (the model translates); the fields are labelled."""
    name = language_name(language)
    ask = [f"Write {request.n} different SMS messages, entirely in {name} (no word of another language, "
           f"whatever the brief's language), each from a different angle (urgency, benefit, question, "
           f"social proof, exclusivity...), in a {request.tone} tone, naming {brand.name or 'the brand'}.",
           f"Brief: {request.brief}"]
    fields = (("Offer", request.offer), ("Product", request.product_names.get(language) or request.product),
              ("Deadline", request.deadline), ("Link (use it as written)", request.link), ("Goal", request.goal),
              ("Audience", request.audience))
    ask += [f"{label}: {value}" for label, value in fields if value]
    ask.append('Answer with JSON only: {"variants": ["message 1", "message 2", ...]}')
    completion = client.complete([ChatMessage("system", _system(brand)), ChatMessage("user", "\n".join(ask))],
                                 max_tokens=120 * request.n + 60, temperature=0.8)
    variants = parse_list(completion.text)
    if not variants:
        raise LlmError("empty", "no variant could be read from the answer")
    return list(dict.fromkeys(variants))[:request.n]


def translate(client: LlmClient, brand: BrandProfile, *, text: str, language: str) -> str:
    """``text`` translated into ``language`` keeping the brand's voice; raises ``LlmError``."""
    completion = client.complete([
        ChatMessage("system", _system(brand)),
        ChatMessage("user", f"Translate this SMS into {language_name(language)}, keeping its tone, "
                            f"length and any {{{{ ... }}}} placeholders unchanged. Answer with the translation "
                            f"only.\n\n{text}"),
    ], max_tokens=300, temperature=0.2)
    return completion.text.strip().strip('"')
