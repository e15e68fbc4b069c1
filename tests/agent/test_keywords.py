"""Compliance keywords: the whole table per language, tolerant matching, and the reply texts."""

from __future__ import annotations

import re

import pytest

from agent.keywords import (
    KeywordKind,
    ReplyKind,
    compliance_texts,
    keywords,
    match_keyword,
)
from agent.language import SUPPORTED_LANGUAGES
from core.text import fold_words

KINDS: tuple[KeywordKind, ...] = ("opt_out", "help", "opt_in")
REPLIES: tuple[ReplyKind, ...] = (*KINDS, "confirm_opt_out", "subscribed")

# GSM 03.38 basic character set: a text using only these fits 160 characters a segment, else 70.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

TABLE = [(kind, lang, word) for kind in KINDS for lang in SUPPORTED_LANGUAGES for word in keywords(kind, lang)]


def test_every_language_has_every_kind() -> None:
    for kind in KINDS:
        for lang in SUPPORTED_LANGUAGES:
            assert keywords(kind, lang), (kind, lang)


@pytest.mark.parametrize(("kind", "lang", "word"), TABLE)
def test_table_entry_matches_in_its_language(kind: KeywordKind, lang: str, word: str) -> None:
    for variant in (word, word.lower(), f"  {word.title()}. ", f"{word}!!", fold_words(word).upper()):
        match = match_keyword(variant, prior=lang)
        assert match is not None, variant
        assert match.kind == kind
        assert match.language == lang
        assert lang in match.languages
        assert match.keyword == fold_words(word)


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        ("Stop.", "opt_out", "en"),
        (" arrêt ", "opt_out", "fr"),
        ("ARRET", "opt_out", "fr"),
        ("Désabonner", "opt_out", "fr"),
        ("opt-out", "opt_out", "en"),
        ("Opt   Out", "opt_out", "en"),
        ("STOPP!", "opt_out", "de"),
        ("baja", "opt_out", "es"),
        ("Dar de baja", "opt_out", "es"),
        ("basta!!!", "opt_out", "it"),
        ("Sair", "opt_out", "pt"),
        ("help?", "help", "en"),
        ("Aide", "help", "fr"),
        ("AYUDA", "help", "es"),
        ("hilfe", "help", "de"),
        ("Aiuto", "help", "it"),
        ("ajuda", "help", "pt"),
        ("START", "opt_in", "en"),
        ("unstop", "opt_in", "en"),
        ("Oui", "opt_in", "fr"),
        ("Sí", "opt_in", "es"),
        ("ja", "opt_in", "de"),
        ("sim", "opt_in", "pt"),
    ],
)
def test_known_messages(text: str, kind: str, language: str) -> None:
    match = match_keyword(text)
    assert match is not None
    assert (match.kind, match.language) == (kind, language)


def test_shared_keyword_follows_prior() -> None:
    stop = match_keyword("stop")
    assert stop is not None and stop.language == "en"
    assert set(stop.languages) == {"en", "fr", "es", "de", "it", "pt"}
    stop_fr = match_keyword("STOP", prior="fr")
    assert stop_fr is not None and stop_fr.language == "fr"
    # a prior the keyword does not belong to falls back to the keyword's first language
    stopp = match_keyword("stopp", prior="fr")
    assert stopp is not None and stopp.language == "de"
    cancelar = match_keyword("cancelar", prior="pt")
    assert cancelar is not None and cancelar.language == "pt" and cancelar.kind == "opt_out"
    si = match_keyword("si", prior="it")
    assert si is not None and si.language == "it" and si.kind == "opt_in"


@pytest.mark.parametrize(
    "text",
    [
        "don't stop the delivery",
        "stop sending me the wrong size",
        "please stop",
        "stopping by later",
        "help me find my order",
        "yes please",
        "arrêtez de m'appeler",
        "",
        "   ",
        "🙏",
        "...",
        "st op",
        "info about my order",
    ],
)
def test_non_keywords(text: str) -> None:
    assert match_keyword(text) is None


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_texts_fit_one_segment(lang: str) -> None:
    texts = compliance_texts(lang)
    for kind in REPLIES:
        text = texts.for_kind(kind, business="Boulangerie Martin SA")  # a 21-character name
        limit = 160 if set(text) <= GSM7_BASIC else 70
        assert len(text) <= limit, (lang, kind, len(text), text)
    assert "Boulangerie Martin SA" in texts.for_kind("help", business="Boulangerie Martin SA")
    assert "{business}" in texts.help


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_texts_name_keywords_that_work_in_their_language(lang: str) -> None:
    texts = compliance_texts(lang)
    expected = {"opt_out": {"opt_in"}, "help": {"opt_out"}, "opt_in": {"opt_out", "help"},
                "confirm_opt_out": {"opt_out"}, "subscribed": {"opt_out", "help"}}
    for kind in REPLIES:
        text = texts.for_kind(kind, business="Shop")
        mentioned = re.findall(r"\b[A-Z]{3,}\b", text)
        kinds_found = set()
        for word in mentioned:
            match = match_keyword(word, prior=lang)
            assert match is not None, (lang, kind, word)
            assert match.language == lang, (lang, kind, word)
            kinds_found.add(match.kind)
        assert expected[kind] <= kinds_found, (lang, kind, mentioned)


def test_unsupported_language_texts_fall_back_to_english() -> None:
    assert compliance_texts("nl") == compliance_texts("en")


def test_only_yes_words_are_affirmations() -> None:
    assert all(match_keyword(w) is not None and match_keyword(w).is_affirmation  # type: ignore[union-attr]
               for w in ("yes", "OUI", "Sí", "ja", "sim"))
    assert not any(match_keyword(w).is_affirmation  # type: ignore[union-attr]
                   for w in ("START", "subscribe", "ALTA", "anmelden", "iscrivimi", "INSCREVER", "STOP"))
