"""Offline variant generation: single-language messages phrased from a brief's slots.

No model writes here and nothing of the brief's free text is copied: each variant is one of the
language's templates (``grammar``) for an *angle* (urgency, benefit, question, social proof,
exclusivity, news, and the occasion when the brief names one), filled with the brief's offer,
product, deadline (dates in the language's own words, through Babel) and link, then the brand's
name, a call to action in the requested tone and any required term the text lacks. Variant ``i``
takes angle ``i`` (the occasion first), so consecutive variants argue differently; a template
whose message would be longer than the brand allows (opt-out footer included) is shortened: the
date without its weekday, the link without a call to action around it, the message without its
headline, and last without the link (``Composed.without_link``, so the caller can say so). Choices are seeded by
the brief, so the same request gives the same variants.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from babel.dates import format_date

from campaigns.templates import with_footer
from campaigns.variants.brief import Brief, Offer
from campaigns.variants.grammar import ANGLES, GRAMMARS, OCCASION_ANGLE, Grammar
from channels.encoding import analyze


@dataclass(frozen=True)
class Composed:
    """A variant and its angle; ``without_link`` when the brief's link did not fit the brand's length."""

    text: str
    angle: str
    without_link: bool = False


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _amount(grammar: Grammar, offer: Offer) -> str:
    return f"{offer.currency}{offer.amount}" if grammar.amount_before else f"{offer.amount} {offer.currency}"


def _slots(grammar: Grammar, brief: Brief, language: str, brand_name: str, *, short: bool) -> dict[str, str]:
    product = brief.product_in(language) or grammar.generic_product
    values = {"brand": brand_name, "product": product, "Product": _capital(product), "deal": "", "offer": "",
              "until": "", "occasion": "", "link": brief.link}
    if brief.offer is not None:
        numbers = {"n": str(brief.offer.n), "amt": _amount(grammar, brief.offer), "a": str(brief.offer.a),
                   "b": str(brief.offer.b)}
        values["offer"] = grammar.offers[brief.offer.kind].format(**numbers)
        values["deal"] = grammar.deals[brief.offer.kind].format(product=product, **numbers)
    if brief.deadline is not None and brief.deadline.day is not None:
        day = grammar.respell(format_date(brief.deadline.day, grammar.date_patterns[short], locale=language))
        values["until"] = grammar.until["short_date" if short else "date"].format(date=day)
    elif brief.deadline is not None:
        values["until"] = grammar.until[brief.deadline.kind]
    if brief.occasion:
        values["occasion"] = grammar.occasions[brief.occasion]
    return {**values, **{_capital(k): _capital(v) for k, v in values.items() if k in ("deal", "occasion")}}


def _tidy(text: str, tone: str) -> str:
    if tone == "premium":  # calm: no exclamation marks
        text = text.replace("¡", "").replace(" !", ".").replace("!", ".")
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\.\.+", ".", text)


def _body(grammar: Grammar, language: str, phrasing: str, values: dict[str, str], tone: str) -> tuple[str, str]:
    """The template filled in, led by the brand's name when the template does not name it, and the
    same without its headline (the shortest form of the message).

    A headline ("Last chance: ...") after the name would make two colons in a row; it ends with
    "!" (Spanish "¡...!", French " !"; "." in a premium or direct tone) and the rest starts a sentence.
    """
    if "{brand}" in phrasing:
        full = phrasing.format(**values)
        return full, full
    prefix = grammar.brand_prefix.format(brand=values["brand"])
    separator = grammar.brand_prefix.removeprefix("{brand}")
    if separator not in phrasing:
        full = prefix + phrasing.format(**values)
        return full, full
    head, rest = phrasing.split(separator, 1)
    head = head.format(**values)
    if tone in ("premium", "direct"):
        head += "."
    elif language == "es":
        head = f"¡{head}!"
    else:
        head += " !" if language == "fr" else "!"
    rest = _capital(rest.format(**values))
    return f"{prefix}{head} {rest}", f"{prefix}{rest}"


def _fits(text: str, language: str, stop_number: str, max_segments: int) -> bool:
    return analyze(with_footer(text, language, stop_number)).segments <= max_segments


def _seed(brief: Brief, language: str, tone: str) -> int:
    key = f"{brief}|{language}|{tone}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big")


def compose(brief: Brief, *, language: str, n: int, brand_name: str, tone: str = "friendly",
            required_terms: Sequence[str] = (), stop_number: str = "", max_segments: int = 2) -> list[Composed]:
    """``n`` distinct variants in ``language`` (one of ``grammar.GRAMMARS``), one angle each in turn."""
    grammar = GRAMMARS[language]
    long_values, short_values = (_slots(grammar, brief, language, brand_name, short=short) for short in (False, True))
    templates = grammar.with_offer if brief.offer is not None else grammar.without_offer
    angles = ([OCCASION_ANGLE] if brief.occasion else []) + list(ANGLES)
    seed = _seed(brief, language, tone)
    ctas = grammar.link_ctas if brief.link else grammar.ctas[tone]
    terms = [t for t in required_terms if t.strip()]
    out: list[Composed] = []
    for attempt in range(len(angles) * 4):
        if len(out) == n:
            break
        angle = angles[attempt % len(angles)]
        phrasings = templates[angle]
        phrasing = phrasings[(attempt // len(angles) + seed) % len(phrasings)]
        cta = ctas[(attempt + seed) % len(ctas)].format(link=brief.link)
        long_body, _ = _body(grammar, language, phrasing, long_values, tone)
        short_body, headless = _body(grammar, language, phrasing, short_values, tone)
        # too long: the date without its weekday, the link without the words around it, the message
        # without its headline, and last without the link (said in the answer's notes)
        candidates = [f"{long_body} {cta}", f"{short_body} {cta}"]
        if brief.link:
            candidates += [f"{long_body} {brief.link}", f"{short_body} {brief.link}", f"{headless} {brief.link}"]
        candidates += [short_body, headless]
        texts = [_tidy(" ".join([c, *(f"{t}." for t in terms if t.lower() not in c.lower())]), tone)
                 for c in candidates]
        text = next((t for t in texts if _fits(t, language, stop_number, max_segments)), texts[-1])
        if text not in (c.text for c in out):
            out.append(Composed(text, angle, without_link=bool(brief.link) and brief.link not in text))
    return out
