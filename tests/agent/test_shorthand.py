"""SMS shorthand spelt out for the models, per language."""

from __future__ import annotations

import pytest

from agent.shorthand import expand_shorthand


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # texted to the simulator: "vs" made the intent model call it out of scope (0.65)
        ("vs etes ouverts le lundi ?", "fr", "vous etes ouverts le lundi ?"),
        ("Tu px me dire QD arrive ma cmd", "fr", "Tu peux me dire quand arrive ma commande"),
        ("r u open on sundays", "en", "are you open on sundays"),
        ("xq no llega mi pedido?", "es", "por qué no llega mi pedido?"),
        ("vc entrega em Lisboa?", "pt", "você entrega em Lisboa?"),
        ("cmq quanto costa?", "it", "comunque quanto costa?"),
        ("kann ich nen Gutschein kaufen?", "de", "kann ich einen Gutschein kaufen?"),
        # "c" for "c'est": "vs livrez en suisse ? c combien ?" was out of scope
        ("c koi les frais de port ? jai pas vu", "fr", "c'est quoi les frais de port ? j'ai pas vu"),
        ("se puede pagar x transferencia?", "es", "se puede pagar por transferencia?"),
        ("qto custa o envio pra Lisboa?", "pt", "quanto custa o envio para Lisboa?"),
        ("im waiting for my order, it doesnt show", "en", "I'm waiting for my order, it doesn't show"),
        ("cm faccio x il reso?", "it", "come faccio per il reso?"),
    ],
)
def test_shorthand_is_spelt_out_in_its_language(text: str, language: str, expected: str) -> None:
    assert expand_shorthand(text, language) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("vs etes ouverts", "en"),  # another language's shorthand is left alone
        ("can I pay in 4?", "en"),  # no digit is read as a word
        ("qu'il vient", "es"),  # not next to an apostrophe
        ("c'est gratuit ?", "fr"),  # "c" already written out
        ("questo costa", "it"),  # not inside a word
        ("vs etes ouverts", "nl"),  # a language without a table
    ],
)
def test_other_words_are_left_alone(text: str, language: str) -> None:
    assert expand_shorthand(text, language) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "rendre" with what is given back is returning it: "je voudrais rendre une lampe" got the bulbs
        ("est-ce que je peux rendre mon plaid ?", "est-ce que je peux retourner mon plaid ?"),
        ("jusqu'à quand je peux la rendre ?", "jusqu'à quand je peux la retourner ?"),
        ("Je souhaite vous rendre l'abat-jour", "Je souhaite vous retourner l'abat-jour"),
        ("jpeux rendre ces coussins ?", "je peux retourner ces coussins ?"),
    ],
)
def test_french_rendre_a_thing_reads_as_returning_it(text: str, expected: str) -> None:
    assert expand_shorthand(text, "fr") == expected


@pytest.mark.parametrize(
    "text",
    [
        "je dois me rendre à la boutique",  # going there
        "pouvez-vous me rendre service ?",
        "vous pouvez me rendre mon argent ?",  # a refund
        "je vais rendre visite à ma mère",
    ],
)
def test_other_uses_of_rendre_are_left_alone(text: str) -> None:
    assert expand_shorthand(text, "fr") == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "I'd like to send back a vase" was return_policy 0.79, under the sureness a backed passage needs
        ("I'd like to send back a vase", "I'd like to return a vase"),
        ("can I send the blue lamp back to you?", "can I return the blue lamp to you?"),
        ("I sent it back yesterday", "I returned it yesterday"),
        ("please send me back the code", "please send me back the code"),  # sending to the customer
        ("we will send you back", "we will send you back"),
    ],
)
def test_english_send_back_reads_as_returning(text: str, expected: str) -> None:
    assert expand_shorthand(text, "en") == expected
