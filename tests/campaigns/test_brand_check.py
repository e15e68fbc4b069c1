"""Brand check rules (deterministic), the scored check with its language rules, and reading LLM answers."""

from __future__ import annotations

import pytest

from campaigns.models import BrandProfile
from campaigns.variants.check import check_texts, foreign_sentences, language_rules, tone_rule
from campaigns.variants.llm import parse_list
from campaigns.variants.rules import (
    Original,
    RuleResult,
    all_rules,
    emoji_rule,
    length_rules,
    shaft_rule,
    spam_rules,
    terms_rules,
)


def _brand(**fields: object) -> BrandProfile:
    values: dict[str, object] = {"name": "Acme", "examples": [], "banned_terms": ["cheap"], "required_terms": ["Acme"],
                                 "emoji_policy": "some", "languages": ["en"], "max_segments": 1,
                                 "sentiment_min": 0.0, "sentiment_max": 1.0, "stop_number": ""}
    values.update(fields)
    return BrandProfile(**values)


def _failed(results: list[RuleResult]) -> set[str]:
    return {r.rule for r in results if not r.passed}


def test_terms() -> None:
    assert _failed(terms_rules("Acme deals, nothing cheap", _brand())) == {"banned_terms"}
    assert _failed(terms_rules("Great deals", _brand())) == {"required_terms"}
    assert _failed(terms_rules("ACME: great deals", _brand())) == set()


def test_spam_triggers() -> None:
    assert _failed(spam_rules("BIG SALE TODAY ONLY")) == {"all_caps"}
    assert _failed(spam_rules("Reply STOP to opt out, see the FAQ")) == set()
    assert _failed(spam_rules("Sale!!! now")) == {"punctuation"}
    assert _failed(spam_rules("Wow! Great! Really!")) == {"punctuation"}
    assert _failed(spam_rules("You are a WINNER, click here")) == {"spam_phrases"}
    assert _failed(spam_rules("See https://bit.ly/abc")) == {"url_shortener"}
    assert _failed(spam_rules("See tinyurl.com/abc or https://acme.example/shop")) == {"url_shortener"}
    assert _failed(spam_rules("See https://acme.example/shop")) == set()


def test_shaft_in_several_languages() -> None:
    assert not shaft_rule("Happy hour: 2 beers for 1").passed
    assert "tobacco" in shaft_rule("Nouveau : e-liquides et vape en boutique").detail
    assert not shaft_rule("Rabatt auf jede Waffe").passed
    assert shaft_rule("Spring collection, 20% off shirts").passed


def test_emoji_policy_and_segments() -> None:
    assert not emoji_rule("Hi 😀", _brand(emoji_policy="none")).passed
    assert not emoji_rule("Hi 😀😀😀", _brand()).passed
    assert emoji_rule("Hi 😀😀😀", _brand(emoji_policy="any")).passed
    long_text = "Acme " + "news " * 31  # 160 characters: the footer pushes it to two segments
    failed = _failed(all_rules(long_text, "en", _brand(), marketing=True))
    assert "segments" in failed
    assert "segments" not in _failed(all_rules(long_text, "en", _brand(), marketing=False))


def test_scored_check_orders_good_above_bad() -> None:
    brand = _brand(examples=["Acme: new linen shirts are in. Come and see.", "Acme members get 10% off."],
                   max_segments=2)
    good, bad, wrong_language = check_texts(
        ["Acme: our linen shirts are back, 10% off for members.", "ACME CHEAP VODKA!!! bit.ly/x",
         "Acme : nos chemises en lin sont de retour, venez les voir."], "en", brand)
    assert good.passed and good.score > 0.6 and good.style_similarity is not None
    assert not bad.passed and bad.score <= 0.49 and len(bad.reasons) >= 4
    assert not wrong_language.passed and wrong_language.language == "fr"
    assert good.score > bad.score


def test_the_tone_is_judged_as_shown() -> None:
    # -0.004 read "more negative than the brand's (sentiment -0.00; the brand's range is +0.00 to +1.00)"
    inside, weight = tone_rule(-0.004, _brand())
    assert inside.passed and weight == 1.0 and "(sentiment +0.00)" in inside.detail
    below, weight = tone_rule(-0.3, _brand())
    assert not below.passed and weight == 0.7
    assert below.detail == ("The tone reads more negative than the brand's (sentiment -0.30; the brand's range is "
                            "+0.00 to +1.00).")


def test_parse_list_accepts_json_and_numbered_lists() -> None:
    assert parse_list('Sure! {"variants": ["a", "b"]}') == ["a", "b"]
    assert parse_list('["x", "y"]') == ["x", "y"]
    assert parse_list("1. first\n2) second\n- third") == ["first", "second", "third"]
    assert parse_list("nothing here") == []


def test_shortener_found_and_long_dotted_runs_scanned_in_linear_time() -> None:
    """A 100,000-character "a.a.a..." without "/" was rescanned from every label."""
    assert "url_shortener" in _failed(spam_rules("Offer at bit.ly/xyz today"))
    assert "url_shortener" in _failed(spam_rules("Offer at https://tinyurl.com/x today"))
    assert "url_shortener" not in _failed(spam_rules("a." * 50_000))
    assert "url_shortener" in _failed(spam_rules("a." * 50_000 + " bit.ly/x"))


def test_reasons_are_sentences_a_person_reads() -> None:
    banned, required = terms_rules("Cheap lamps", _brand())
    assert banned.detail == "Uses a term the brand bans: “cheap”."
    assert required.detail == "Leaves out a term the brand requires: “Acme”."
    assert shaft_rule("Two beers for one").detail == "Mentions alcohol (SHAFT content): carriers block it."
    encoding = [r for r in length_rules("Acme: promoção já", "pt", _brand(max_segments=2), marketing=True)
                if r.rule == "encoding"]
    assert encoding and encoding[0].detail.startswith("Characters outside the GSM-7 alphabet (“ç”, “ã”, “á”)")


def test_a_character_outside_gsm7_that_costs_a_segment_is_said_with_the_cost() -> None:
    """The walk's case: one "À" made a one-segment French text two (UCS-2), and the check said only
    that a segment holds 70 characters."""
    text = "Acme : nos chemises en lin sont de retour, -20 % ce week-end. À très vite !"
    brand = _brand(max_segments=2, stop_number="36180", languages=["fr"])
    rules = {r.rule: r for r in length_rules(text, "fr", brand, marketing=True)}
    assert rules["encoding"].detail == ("2 segments instead of 1: “À” is outside GSM-7 (a segment then holds 70 "
                                        "characters instead of 160).")
    assert not rules["encoding"].passed and rules["encoding"].severity == "warning"
    assert rules["segments"].detail == "2 SMS segments as sent (89 characters, UCS-2)."
    # beside the text it was made from
    gsm = text.replace("À", "A")
    rules = {r.rule: r for r in length_rules(gsm, "fr", brand, marketing=True,
                                             original=Original(text, "as the model wrote it"))}
    assert rules["segments"].detail == ("1 SMS segment as sent (89 characters, GSM-7); as the model wrote it: "
                                        "2 SMS segments (UCS-2).")
    assert rules["encoding"].passed and rules["encoding"].detail == "Kept in GSM-7: “À” as “A”."
    translated = {r.rule: r for r in length_rules(text, "fr", brand, marketing=True, original=Original(
        "Acme: linen shirts are back, 20% off this weekend. See you soon!"))}
    assert translated["segments"].detail == ("2 SMS segments as sent (89 characters, UCS-2); the original: "
                                             "1 SMS segment (GSM-7).")


def test_french_marketing_without_a_stop_number_is_flagged() -> None:
    text = "Acme : nos chemises en lin sont de retour."
    no_number = {r.rule: r for r in length_rules(text, "fr", _brand(max_segments=2), marketing=True)}
    assert not no_number["opt_out"].passed and "STOP number" in no_number["opt_out"].detail
    with_number = {r.rule: r for r in length_rules(text, "fr", _brand(max_segments=2, stop_number="36180"),
                                                    marketing=True)}
    assert with_number["opt_out"].passed


# The case: an English brief pasted between a French opener and closer reads as French
# overall (lingua: fr), so only the fragment check sees the English in it.
PASTED = [
    ("fr", "Relais: Bonne nouvelle! Winter sale: 20% off… Découvrez-le.", "Winter sale"),
    ("fr", "Relais : Rien que pour vous ! Summer sale on linen shirts this weekend: 20% off. Profitez-en.",
     "Summer sale on linen shirts this weekend"),
    ("de", "Relais: Nur für dich! Summer sale on linen shirts. Bis bald!", "Summer sale on linen shirts"),
    ("en", "Relais: Treat yourself! Chemises en lin à -20 % ce week-end. See you soon!", "Chemises en lin"),
    ("es", "Relais: ¡Solo para ti! Nuevas camisas de lino. Reply STOP to opt out", "Reply STOP to opt out"),
    ("pt", "Relais: Só para você! New arrivals in store. Até breve!", "New arrivals in store"),
]


@pytest.mark.parametrize(("language", "text", "fragment"), PASTED)
def test_a_brief_pasted_in_another_language_is_caught(language: str, text: str, fragment: str) -> None:
    brand = _brand(name="Relais", required_terms=[], max_segments=3, languages=[])
    rules, detected = language_rules(text, language, brand)
    assert detected == language  # the whole text passes for the right language...
    mixed = next(r for r in rules if r.rule == "mixed_language")
    assert not mixed.passed and mixed.severity == "error"  # ...the fragment does not
    assert mixed.detail.startswith("Mixes languages: “" + fragment)
    [result] = check_texts([text], language, brand)
    assert not result.passed and result.score <= 0.49 and mixed.detail in result.reasons


def test_one_language_texts_names_and_loanwords_are_not_mixed() -> None:
    brand = _brand(name="Maison Lumière", required_terms=["Aurora"], languages=[])
    for language, text in (
        ("en", "Maison Lumière: Black Friday! 30% off the Aurora lamp until Sunday. See you soon!"),
        ("de", "Maison Lumière: Gönn dir was! 10 % Rabatt auf Kerzen bis Sonntag. Na los, gönn dir was!"),
        ("pt", "Maison Lumière: Saldos de inverno! A nossa seleção com 20% de desconto até domingo."),
        ("fr", "Maison Lumière : nos chemises en lin sont de retour. Venez les voir en boutique."),
    ):
        assert foreign_sentences(text, language, ["Maison Lumière", "Black Friday"]) == [], text
        rules, detected = language_rules(text, language, brand)
        assert detected == language and all(r.passed for r in rules), (text, [r.detail for r in rules])


def test_a_text_in_the_wrong_language_says_which() -> None:
    rules, detected = language_rules("Bonjour, les soldes commencent demain chez nous.", "en", _brand())
    assert detected == "fr"
    assert rules[0].detail == "Written in French, but this variant is for English."
