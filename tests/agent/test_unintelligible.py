"""Unreadable messages: keyboard mashes are caught, real words in six languages, names and short words are not."""

from __future__ import annotations

import pytest

from agent.unintelligible import REPHRASE, asked_to_rephrase, rephrase_request, unintelligible


@pytest.mark.parametrize("text", ["asdfgh qwerty", "jkjkjk", "qsdfghjklm", "poiuytreza", "fjfjfj dkdk",
                                  "zxcvbnm", "dhdhhd ?", "ghjkl asdf"])
def test_keyboard_mashes_are_unintelligible(text: str) -> None:
    assert unintelligible(text)


@pytest.mark.parametrize("text", [
    "Bonjour", "help", "password", "I forgot my password", "Rücksendung", "livrasion", "paraffine",
    "und für ein Sofa?",  # short words and a name: left to the models
    "i am john", "ok", "👍", "xD", "hmmmmm", "merciiii", "Bizum?", "4512", "",
    "Где мой заказ?",  # another script: a person reads it, the bot does not ask to rephrase
    "¿Dónde está mi pedido?", "Wo bleibt meine Bestellung?", "Dov'è il mio ordine?", "Cadê a minha encomenda?",
])
def test_real_words_names_short_words_and_other_scripts_are_not(text: str) -> None:
    assert not unintelligible(text)


def test_the_request_to_rephrase_is_in_the_language_and_recognised_in_any() -> None:
    assert rephrase_request("fr").startswith("Désolé") and rephrase_request("xx") == REPHRASE["en"]
    assert all(asked_to_rephrase(text) for text in REPHRASE.values())
    assert not asked_to_rephrase("You're welcome. Have a lovely day.")
