"""Courtesy around a request, shouting, and "are you a bot?" in six languages."""

from __future__ import annotations

import pytest

from agent.smalltalk import (
    acknowledgement,
    asks_something,
    bot_question,
    courtesy_language,
    model_text,
    strip_courtesy,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour, je voudrais parler à quelqu'un, ma lampe ne s'allume plus",
         "je voudrais parler à quelqu'un, ma lampe ne s'allume plus"),
        ("Hi there, where is my order?", "where is my order?"),
        ("Thanks! And can I pay with PayPal?", "And can I pay with PayPal?"),
        ("Hola, buenos días. ¿Dónde está mi pedido?", "¿Dónde está mi pedido?"),
        ("Merci beaucoup", "Merci beaucoup"),  # nothing follows: the greeting stays the message
        ("Hello", "Hello"),
        ("Olá obrigado", "Olá obrigado"),
        ("Hilfe bei meiner Bestellung", "Hilfe bei meiner Bestellung"),  # "Hi" inside a word is no greeting
        ("Merci de ne plus m'envoyer de SMS", "Merci de ne plus m'envoyer de SMS"),  # "merci de" is "please"
        ("Thanks for your help, where is my order?", "Thanks for your help, where is my order?"),
        # after thanks, two words are a word about the answer, not a request ("me sirve": "it works for me")
        ("gracias, me sirve", "gracias, me sirve"),
        ("merci, ça marche", "merci, ça marche"),
        ("Thanks, where's my order?", "where's my order?"),  # a question is a request
        ("Danke, wo ist meine Bestellung", "wo ist meine Bestellung"),
        ("Hello, human please", "human please"),  # after a greeting two words are enough
        # an acknowledgement opening a question, read as thanks are ("ok and with PayPal?" was no follow-up)
        ("ok and with PayPal?", "and with PayPal?"),
        ("d'accord, et avec Apple Pay ?", "et avec Apple Pay ?"),
        ("vale, ¿y con Google Pay?", "¿y con Google Pay?"),
        ("ok, ça marche", "ok, ça marche"),
        ("super lamp, do you have more?", "super lamp, do you have more?"),
    ],
)
def test_courtesy_before_a_request_is_dropped(text: str, expected: str) -> None:
    assert strip_courtesy(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Bonjour, I don't speak French, where is my order?", "where is my order?"),
    ("Sorry I don’t speak French. How much is shipping?", "How much is shipping?"),
    ("Hola, no hablo francés, ¿dónde está mi pedido?", "¿dónde está mi pedido?"),
    ("Ich spreche kein Französisch, wo ist meine Bestellung?", "wo ist meine Bestellung?"),
    ("je ne parle pas anglais", "je ne parle pas anglais"),  # the remark alone is left to the models
    ("I don't speak to bots, where is my order?", "I don't speak to bots, where is my order?"),
])
def test_a_remark_on_the_language_before_a_request_is_dropped(text: str, expected: str) -> None:
    # "Bonjour, I don't speak French, where is my order?" (texted to the simulator) was out of scope
    assert model_text(text) == expected


def test_shouting_is_lower_cased_for_the_models() -> None:
    assert model_text("AGENT") == "agent" and model_text("HELLO, WHERE IS MY ORDER?") == "where is my order?"
    assert model_text("Is my order OK?") == "Is my order OK?"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Tu es un robot ?", "fr"), ("Vous êtes une vraie personne ?", "fr"), ("are you a bot?", "en"),
        ("Hello, am I talking to a human?", "en"), ("¿eres un robot?", "es"), ("Bist du ein Mensch?", "de"),
        ("sei un bot", "it"), ("Você é um robô?", "pt"),
    ],
)
def test_bot_questions_are_recognised_in_their_language(text: str, language: str) -> None:
    found = bot_question(text, "Maison Lumière")
    assert found is not None and found.language == language and "Maison Lumière" in found.reply


@pytest.mark.parametrize("text", ["are you open on Sunday?", "is this lamp a robot vacuum?",
                                  "Tu es un robot ? Arrêtez de m'écrire", "my robot arrived broken"])
def test_other_messages_are_no_bot_question(text: str) -> None:
    assert bot_question(text, "Shop") is None


@pytest.mark.parametrize(
    ("text", "language"),
    [("thx!", "en"), ("Merci beaucoup !", "fr"), ("merci", "fr"), ("gracias", "es"), ("Danke schön", "de"),
     ("grazie mille", "it"), ("obrigada", "pt"), ("Hola, gracias", "es")],
)
def test_a_message_of_courtesy_words_is_in_their_language(text: str, language: str) -> None:
    # the detector reads "thx" as French (0.48) and "merci" as Italian (0.26)
    assert courtesy_language(text) == language


@pytest.mark.parametrize("text", ["ok", "super merci", "thanks for your help", "hola, do you ship to Mexico?",
                                  "hi ciao", ""])
def test_other_messages_have_no_courtesy_language(text: str) -> None:
    assert courtesy_language(text) is None


@pytest.mark.parametrize(("text", "language"), [
    ("ok", None), ("👍", None), ("👌🏽", None), ("super", None), ("Top !", None), ("vale", "es"), ("ok merci", "fr"),
    ("parfait 👍", "fr"), ("alles klar", "de"), ("va bene, grazie", "it"), ("tá bom", "pt"), ("got it, thanks!", "en"),
])
def test_an_acknowledgement_and_the_language_of_its_words(text: str, language: str | None) -> None:
    ack = acknowledgement(text)
    assert ack is not None and ack.language == language


@pytest.mark.parametrize("text", ["hello", "Bonjour", "merci", "thanks a lot", "ok, and for express?", "😡", "?",
                                  "great, where is my order?", "oui"])
def test_greetings_thanks_requests_and_other_emoji_are_no_acknowledgement(text: str) -> None:
    assert acknowledgement(text) is None


@pytest.mark.parametrize(("text", "asks"), [
    ("jusqu'à quand ?", True), ("¿cuánto tiempo tengo?", True), ("wie lange", True), ("à bientôt ?", True),
    ("Merci, et jusqu'à quand ?", True), ("thanks, how long does delivery take", True),
    ("Bonjour ?", False), ("hello?", False), ("how are you?", False), ("Ça va ?", False), ("Hi, how are you?", False),
    ("merci", False), ("au revoir", False), ("bye!", False), ("Merci, bonne journée", False),
])
def test_a_question_is_told_from_small_talk(text: str, asks: bool) -> None:
    assert asks_something(text) is asks
