"""Brand check rules (deterministic), the scored check, and offline composition."""

from __future__ import annotations

from campaigns.models import BrandProfile
from campaigns.variants import offline
from campaigns.variants.check import check_texts
from campaigns.variants.llm import parse_list
from campaigns.variants.rules import RuleResult, all_rules, emoji_rule, shaft_rule, spam_rules, terms_rules


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


def test_offline_compose_is_deterministic_and_uses_the_brand() -> None:
    examples = ["Salut de la part d'Acme. La boutique ouvre tard ce soir. À bientôt !"]
    first = offline.compose(brief="Spring sale starts Friday", language="fr", n=4, examples=examples,
                            brand_name="Acme", offer="-20%")
    assert first == offline.compose(brief="Spring sale starts Friday", language="fr", n=4, examples=examples,
                                    brand_name="Acme", offer="-20%")
    assert len(set(first)) == 4 and all("Spring sale starts Friday: -20%" in v for v in first)
    assert all(v.count("Acme") == 1 for v in first)


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
