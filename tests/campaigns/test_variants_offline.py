"""The offline variant generator: briefs read into language-neutral slots, single-language variants
phrased per language (checked by the project's language detector), slots filled, nothing of the
brief's text carried into another language, one angle per variant, within the brand's length."""

from __future__ import annotations

import re
from datetime import date

import pytest
from babel import Locale

from agent.language import detect_language
from campaigns.templates import with_footer
from campaigns.variants.brief import Deadline, Offer, Product, parse_brief, parse_deadline, parse_offer
from campaigns.variants.check import foreign_sentences
from campaigns.variants.grammar import GRAMMARS
from campaigns.variants.offline import compose
from channels.encoding import analyze

TODAY = date(2026, 11, 29)  # a Sunday
BRAND = "Maison Lumière"
LINK = "https://maison-lumiere.example/hiver"
ENGLISH_BRIEF = "Winter sale: 20% off coats until Friday. Push urgency, we need to clear the stock."
LANGUAGES = ("en", "fr", "es", "de", "it", "pt")


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_gets_distinct_single_language_variants_with_the_slots_filled(language: str) -> None:
    brief = parse_brief(ENGLISH_BRIEF, today=TODAY, offer="20% off", product="Aurora", deadline="2026-12-24",
                        link=LINK)
    variants = compose(brief, language=language, n=6, brand_name=BRAND, stop_number="36180", max_segments=3)
    texts = [v.text for v in variants]
    assert len(texts) == 6 and len(set(texts)) == 6
    assert [v.angle for v in variants] == ["occasion", "urgency", "benefit", "question", "social_proof",
                                           "exclusivity"]
    december = Locale.parse(language).months["format"]["wide"][12].lower()
    leaked = _words(ENGLISH_BRIEF) - _words(" ".join(GRAMMARS[language].occasions.values()))
    for text in texts:
        assert detect_language(text.replace(BRAND, " ")).language == language, text
        assert foreign_sentences(text, language, [BRAND, "Aurora"]) == [], text
        assert BRAND in text and "Aurora" in text and "20" in text and LINK in text, text
        assert december in text.lower() and "24" in text, text
        assert analyze(with_footer(text, language, "36180")).segments <= 3, text
        if language != "en":
            assert not _words(text) & leaked - {"sale"}, text  # no English word of the brief


@pytest.mark.parametrize("language", ("fr", "es", "de", "it", "pt"))
def test_a_common_noun_stays_in_its_own_language(language: str) -> None:
    """"coats" (English) is only said in English; other languages name the grammar's generic product."""
    brief = parse_brief(ENGLISH_BRIEF, today=TODAY)
    assert brief.product == Product("coats", "en") and brief.offer == Offer("percent", n=20)
    assert brief.deadline == Deadline("date", date(2026, 12, 4)) and brief.occasion == "winter_sale"
    english = compose(brief, language="en", n=3, brand_name=BRAND)
    assert all("20% off coats until Friday 4 December" in v.text for v in english if v.angle != "question")
    for variant in compose(brief, language=language, n=4, brand_name=BRAND):
        assert "coats" not in variant.text and GRAMMARS[language].generic_product.lower() in variant.text.lower()
        assert detect_language(variant.text.replace(BRAND, " ")).language == language
    named = parse_brief(ENGLISH_BRIEF, today=TODAY, product="coats", product_names={language: "Mäntel"})
    assert all("Mäntel" in v.text for v in compose(named, language=language, n=3, brand_name=BRAND))


def test_the_same_brief_gives_the_same_variants_and_tones_differ() -> None:
    brief = parse_brief("Free delivery on the Aurora lamp this weekend", today=TODAY)
    first = compose(brief, language="fr", n=4, brand_name=BRAND)
    assert first == compose(brief, language="fr", n=4, brand_name=BRAND)
    premium = compose(brief, language="fr", n=4, brand_name=BRAND, tone="premium")
    assert all("!" not in v.text for v in premium) and [v.text for v in premium] != [v.text for v in first]
    assert all("livraison offerte" in v.text and "ce week-end" in v.text for v in first)


@pytest.mark.parametrize("language", LANGUAGES)
def test_variants_keep_within_the_brand_s_length_shortening_what_they_must(language: str) -> None:
    """Two segments with a link (UCS-2 for most languages: 134 characters with the footer)."""
    brief = parse_brief(ENGLISH_BRIEF, today=TODAY, offer="20% off", product="Aurora", deadline="2026-12-24",
                        link=LINK)
    variants = compose(brief, language=language, n=6, brand_name=BRAND, stop_number="36180", max_segments=2)
    assert len({v.text for v in variants}) == 6
    for variant in variants:
        assert analyze(with_footer(variant.text, language, "36180")).segments <= 2, variant.text
        assert (LINK in variant.text) != variant.without_link and "24" in variant.text


def test_required_terms_are_added() -> None:
    brief = parse_brief("20% off everything until 24/12", today=TODAY)
    variants = compose(brief, language="de", n=5, brand_name=BRAND, required_terms=["Aurora", "Maison"])
    assert all("Aurora." in v.text and v.text.count("Maison") == 1 for v in variants)


@pytest.mark.parametrize(("text", "offer"), [
    ("-20 % sur tout", Offer("percent", n=20)),
    ("15 € de descuento", Offer("amount", amount=15, currency="€")),
    ("£10 off", Offer("amount", amount=10, currency="£")),
    ("livraison offerte", Offer("free_shipping")),
    ("kostenloser Versand", Offer("free_shipping")),
    ("frete grátis", Offer("free_shipping")),
    ("3 pour 2 sur les bougies", Offer("bundle", a=3, b=2)),
    ("1+1 gratis", Offer("bundle", a=2, b=1)),
    ("a lovely surprise", None),
])
def test_offers_are_read_in_any_language(text: str, offer: Offer | None) -> None:
    assert parse_offer(text) == offer


@pytest.mark.parametrize(("text", "deadline"), [
    ("until 2026-12-24", Deadline("date", date(2026, 12, 24))),
    ("jusqu'au 24/12", Deadline("date", date(2026, 12, 24))),
    ("bis 24. Dezember", Deadline("date", date(2026, 12, 24))),
    ("hasta el 24 de diciembre", Deadline("date", date(2026, 12, 24))),
    ("until December 24th", Deadline("date", date(2026, 12, 24))),
    ("fino al 3 gennaio", Deadline("date", date(2027, 1, 3))),  # passed this year: next year's
    ("jusqu'à dimanche", Deadline("date", TODAY)),
    ("até sexta-feira", Deadline("date", date(2026, 12, 4))),
    ("ce week-end", Deadline("weekend")),
    ("nur heute", Deadline("today")),
    ("demain", Deadline("tomorrow")),
    ("soon", None),
    ("31/02", None),
    ("29/02", None),  # 2027 is no leap year: not a date
    ("29/02/2028", Deadline("date", date(2028, 2, 29))),
])
def test_deadlines_are_read_in_any_language(text: str, deadline: Deadline | None) -> None:
    assert parse_deadline(text, TODAY) == deadline


def test_what_cannot_be_used_is_said() -> None:
    brief = parse_brief("Nouvelle collection", today=TODAY, offer="buy more, save more", deadline="soon",
                        link="not a link")
    assert brief.offer is None and brief.deadline is None and brief.link == ""
    assert len(brief.notes) == 3 and "“buy more, save more”" in brief.notes[0]
    assert brief.occasion == "new_collection" and brief.language == "fr"
    quoted = parse_brief("Nouvelle lampe « Aurora » en laiton", today=TODAY)
    assert quoted.product == Product("Aurora", None)
    french = parse_brief("Soldes : -20 % sur tous les manteaux jusqu'à dimanche", today=TODAY)
    assert french.product == Product("manteaux", "fr") and french.product_in("en") is None


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_apostrophes_quote_nothing(apostrophe: str) -> None:
    # "d'hiver ... jusqu'à" read as a quoted name, "hiver : -20% sur les manteaux jusqu", put in every language
    brief = parse_brief(f"Soldes d{apostrophe}hiver : -20% sur les manteaux jusqu{apostrophe}à dimanche", today=TODAY)
    assert brief.product == Product("manteaux", "fr") and brief.occasion == "winter_sale"
    english = [v.text for v in compose(brief, language="en", n=3, brand_name=BRAND)]
    assert not any({"hiver", "sur", "manteaux", "jusqu"} & _words(text) for text in english), english
    quoted = parse_brief("Don't wait: 20% off 'Aurora' lamps, it's the sale", today=TODAY)
    assert quoted.product == Product("Aurora", None)


@pytest.mark.parametrize(("language", "long", "short"), [("de", "bis Samstag, 12. Dezember", "bis zum 12. Dezember"),
                                                         ("it", "fino a sabato 12 dicembre", "fino al 12 dicembre")])
def test_a_date_without_its_weekday_keeps_its_grammar(language: str, long: str, short: str) -> None:
    brief = parse_brief("-15% jusqu'au 12 décembre", today=TODAY,
                        link="https://maison-lumiere.example/laiton/collection-hiver")
    texts = [v.text for v in compose(brief, language=language, n=6, brand_name=BRAND, tone="premium", max_segments=1)]
    assert any(short in t for t in texts) and all(long in t or short in t for t in texts), texts
