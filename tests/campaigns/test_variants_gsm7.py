"""Variants stay in GSM-7 where the language allows: a character outside it sends the whole text as
UCS-2, 70 characters a segment instead of 160, often twice the segments and twice the cost.

The offline grammar is walked phrase by phrase (and Babel's month and weekday names, which the
dates are written with); the only characters outside GSM-7 allowed are in the words listed in
``NEEDED`` below, each with why no GSM-7 wording exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from babel import Locale

from campaigns.variants.brief import parse_brief
from campaigns.variants.grammar import GRAMMARS, Grammar
from campaigns.variants.offline import compose
from campaigns.variants.schemas import TONES
from channels.encoding import is_gsm7, ucs2_characters

#: Words the grammar (or Babel's calendar) may write outside GSM-7, per language: no GSM-7 spelling is
#: correct and no other wording says the same. English, German and Italian need none (GSM-7 was drawn up
#: with their letters); French only in two occasion names (GSM-7 has no ë or ê: "Noel" and "fete" are
#: misspellings, not look-alikes); Spanish and Portuguese in occasion, month and weekday names (their
#: accents and nasal vowels are letters of the word: "colección", "Mãe", "sábado", "março").
NEEDED: dict[str, frozenset[str]] = {
    "en": frozenset(),
    "de": frozenset(),
    "it": frozenset(),
    "fr": frozenset({"Noël", "fête"}),
    "es": frozenset({"colección", "Día", "Valentín", "sábado"}),
    "pt": frozenset({"amanhã", "verão", "coleção", "Mãe", "março", "terça-feira", "sábado"}),
}
TODAY = date(2026, 11, 29)
BRAND = "Maison Lumiere"


def _phrases(grammar: Grammar) -> Iterator[str]:
    yield grammar.brand_prefix
    yield grammar.generic_product
    yield from grammar.offers.values()
    yield from grammar.deals.values()
    yield from grammar.until.values()
    for templates in (grammar.with_offer, grammar.without_offer):
        for phrasings in templates.values():
            yield from phrasings
    for ctas in grammar.ctas.values():
        yield from ctas
    yield from grammar.link_ctas
    yield from grammar.occasions.values()


def _calendar(language: str) -> Iterator[str]:
    grammar, locale = GRAMMARS[language], Locale.parse(language)
    for name in [*locale.months["format"]["wide"].values(), *locale.days["format"]["wide"].values()]:
        yield grammar.respell(name)


def _outside_gsm7(text: str) -> set[str]:
    """The words of ``text`` holding a character outside GSM-7."""
    return {w for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", text) if not is_gsm7(w)} | {
        ch for ch in ucs2_characters(text) if not ch.isalpha()}


@pytest.mark.parametrize("language", list(GRAMMARS))
def test_every_phrase_of_the_grammar_is_gsm7_but_the_words_a_language_needs(language: str) -> None:
    assert set(NEEDED) == set(GRAMMARS)
    found = {phrase: _outside_gsm7(phrase) for phrase in [*_phrases(GRAMMARS[language]), *_calendar(language)]}
    assert {p: words for p, words in found.items() if words - NEEDED[language]} == {}
    assert set().union(*found.values()) == NEEDED[language]  # no exception is kept that is not needed


def test_the_french_friendly_call_to_action_is_gsm7() -> None:
    """The walk's case: "À très vite !" put the whole French text in UCS-2."""
    assert all(is_gsm7(cta) for ctas in GRAMMARS["fr"].ctas.values() for cta in ctas)
    assert "A très vite !" in GRAMMARS["fr"].ctas["friendly"]


BRIEFS = (
    ("Winter sale: 20% off coats until 2026-08-14", "Aurora", ""),
    ("New collection, free delivery this weekend", "", "https://maison.example/new"),
    ("3 for 2 on candles tomorrow", "Aurora", ""),
    ("15 € off the Aurora lamp until Saturday", "", ""),
    ("Summer sale today only", "", "https://maison.example/s"),
    ("Black Friday: 30% off everything until Tuesday", "", ""),
    ("Back in stock: the Aurora lamp", "", ""),
)


@pytest.mark.parametrize("language", list(GRAMMARS))
def test_offline_variants_bring_no_character_outside_gsm7_but_the_needed_words(language: str) -> None:
    """Every angle and tone of several briefs (offers, dates in August and on each weekday, links)."""
    for text, product, link in BRIEFS:
        for days in range(7):
            brief = parse_brief(text, today=TODAY + timedelta(days=days), product=product, link=link)
            for tone in TONES:
                for variant in compose(brief, language=language, n=7, brand_name=BRAND, tone=tone):
                    assert _outside_gsm7(variant.text) <= NEEDED[language], variant.text


def test_french_variants_are_gsm7_with_the_friendly_call_to_action_and_an_august_date() -> None:
    """"À très vite !" and Babel's "août" put the whole French text in UCS-2."""
    brief = parse_brief("Lampes Aurora de retour en boutique", today=TODAY, product="Aurora")
    texts = [v.text for v in compose(brief, language="fr", n=7, brand_name=BRAND, tone="friendly")]
    assert any("A très vite !" in t for t in texts) and all(is_gsm7(t) for t in texts)
    august = parse_brief("-20 % sur tout jusqu'au 14 août", today=TODAY)
    assert all("14 aout" in v.text and is_gsm7(v.text) for v in compose(august, language="fr", n=3, brand_name=BRAND))
