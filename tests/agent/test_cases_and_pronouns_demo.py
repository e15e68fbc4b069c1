"""Answers that were still wrong after session 20 (session 21, H2; demo shop, real models): "e se já a acendi?" after
a candle-return question got the return steps, where the return policy says lit candles are not taken back; "can I use
them in the shop?" after the gift cards got Click & Collect; "Wie schicke ich etwas zurück und wie lange habe ich
Zeit?" the steps without the 30 days; "ou est ma comande svp" and "¿Cuánto duran las velas pequeñas?" a person."""

from __future__ import annotations

import pytest

from agent.accents import Accents, single_letters
from agent.context import Turn, asks_condition, resolve_follow_up
from agent.entities import subject_topics, words_pattern
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo
from tests.agent.test_trips_demo import converse

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline

LIT = {"en": "lit cannot be returned", "fr": "bougies allumées ne sont pas reprises"}


@pytest.mark.parametrize(
    ("earlier", "text", "language"),
    [
        ("Can I return a candle?", "what if I've already lit it?", "en"),
        ("Posso devolver uma vela?", "e se já a acendi?", "pt"),
        ("Je peux retourner une bougie ?", "et si je l'ai déjà allumée ?", "fr"),
        ("¿Puedo devolver una vela?", "¿y si ya la encendí?", "es"),
        ("Kann ich eine Kerze zurückgeben?", "und wenn ich sie schon angezündet habe?", "de"),
        ("Posso restituire una candela?", "e se l'ho già accesa?", "it"),
        ("Nehmt ihr Kerzen zurück?", "und wenn ich sie schon angezündet habe?", "de"),
    ],
)
def test_a_case_stated_after_an_answer_gets_the_sentence_stating_it(
    pipeline: Pipeline, earlier: str, text: str, language: str
) -> None:
    """The case ("lit") is stated by one sentence of the return policy; the question read with it is closest to that
    sentence (0.30-0.49), the return steps winning on their title only."""
    decision = converse(pipeline, [earlier, text], language)[-1]
    assert decision.action == "reply" and decision.reply is not None, (text, decision.reason_code)
    assert (
        LIT.get(language, LIT["en"]) in decision.reply
        and "label" not in decision.reply
        and "étiquette" not in decision.reply
    ), decision.reply


def test_a_case_of_the_return_steps_gets_the_condition_that_holds(pipeline: Pipeline) -> None:
    decision = converse(pipeline, ["How do I return an item?", "what if I've used it?"])[-1]
    assert decision.reply is not None and "unused" in decision.reply and "label" not in decision.reply


def test_a_case_is_one_clause_opening_with_a_connector() -> None:
    assert all(
        asks_condition(text)
        for text in [
            "what if I've already lit it?",
            "e se já a acendi?",
            "et si je l'ai déjà allumée ?",
            "y si ya la encendí?",
            "und wenn ich sie schon angezündet habe?",
            "e se l'ho già accesa?",
            "and what if it was a gift?",
        ]
    )
    # a bare "if" opens a question of its own, and so does a case followed by its own clause or detail asked
    assert not any(
        asks_condition(text)
        for text in [
            "Si je commande aujourd'hui, je reçois quand ?",
            "Et si je commande aujourd'hui, ça arrive quand ?",
            "Wenn ich heute bestelle, wann kommt es?",
            "Se ordino oggi quando arriva?",
            "and if so how much is it?",
        ]
    )


@pytest.mark.parametrize(
    ("earlier", "text", "language", "fact"),
    [
        ("Do you sell gift cards?", "can I use them in the shop?", "en", "Paris shop"),
        ("Vendez-vous des cartes cadeaux ?", "je peux les utiliser en boutique ?", "fr", "boutique de Paris"),
        ("¿Vendéis tarjetas regalo?", "¿puedo usarlas en la tienda?", "es", "Paris shop"),
        ("Vendete carte regalo?", "posso usarle in negozio?", "it", "Paris shop"),
        ("Verkauft ihr Geschenkkarten?", "kann ich sie im Laden einlösen?", "de", "Paris shop"),
        ("Vocês vendem cartões presente?", "posso usá-los na loja?", "pt", "Paris shop"),
    ],
)
def test_what_an_object_pronoun_stands_for_is_the_earlier_questions(
    pipeline: Pipeline, earlier: str, text: str, language: str, fact: str
) -> None:
    """Read alone, the question names the shop and got Click & Collect; its pronoun stands for the gift cards, whose
    answer says where they are valid (sent again: it states the shop the follow-up names)."""
    decision = converse(pipeline, [earlier, text], language)[-1]
    assert decision.reply is not None and fact in decision.reply and "Click" not in decision.reply, decision.reply


def test_a_pronoun_after_a_statement_or_naming_its_own_means_is_read_alone() -> None:
    gift = [Turn("customer", "Do you sell gift cards?"), Turn("bot", "Yes, e-gift cards…")]
    assert (
        resolve_follow_up("can I use them in the shop?", gift) == "Do you sell gift cards? can I use them in the shop?"
    )
    assert resolve_follow_up("Can I pay for them with PayPal?", gift) is None
    assert resolve_follow_up("Können Sie mich anrufen?", gift) is None  # "Sie" is the polite you
    assert resolve_follow_up("Kann ich Sie anrufen?", gift) is None
    statement = [Turn("customer", "Hi, I ordered a lamp yesterday"), Turn("bot", "Hello!")]
    assert resolve_follow_up("Actually I changed my mind, can I cancel it?", statement) is None


@pytest.mark.parametrize(
    "text",
    [
        "Wie schicke ich etwas zurück und wie lange habe ich Zeit?",
        "Wie gebe ich einen Artikel zurück und wie viel Zeit habe ich?",
    ],
)
def test_a_german_separable_verb_names_returns_for_both_questions(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "return label" in decision.reply and "30 days" in decision.reply, (
        decision.reply
    )


def test_a_split_phrase_matches_its_parts_a_few_words_apart() -> None:
    pattern = words_pattern(["schick* .. zuruck", "send .. back"])
    assert pattern.search(" wie schicke ich etwas zuruck ") and pattern.search(" can i send the lamp back ")
    assert not pattern.search(" ich schicke die lampe heute per post zuruck ")  # four words apart
    assert subject_topics("Wie schicke ich etwas zurück?") == {"returns"}
    assert subject_topics("Can I send the lamp back?") == {"returns"}


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("ou est ma comande svp", "lien de suivi"),
        ("où est ma comande ?", "lien de suivi"),
        ("je veux anuler ma comande", "annulée gratuitement"),
    ],
)
def test_a_doubled_letter_left_single_is_read_as_the_examples_spell_it(
    pipeline: Pipeline, text: str, fact: str
) -> None:
    decision = pipeline.analyze(text, contact_language="fr", use_llm=False).decision
    assert decision.reply is not None and fact in decision.reply, (text, decision.reason_code)


def test_doubled_letters_are_respelt_only_for_words_the_examples_never_write() -> None:
    accents = Accents({"fr": ["Où est ma commande ?", "Je veux annuler", "quel est le délai", "une balle", "un bal"]})
    assert single_letters("commande") == "comande"
    assert accents.restore("ou est ma comande", "fr") == "ou est ma commande"
    assert accents.restore("je veux anuler", "fr") == "je veux annuler"
    assert accents.restore("le delai", "fr") == "le délai"
    assert accents.restore("une commande", "fr") == "une commande"
    assert accents.restore("ou est ma comande", "en") == "ou est ma comande"


@pytest.mark.parametrize(
    "text", ["¿Cuánto duran las velas pequeñas?", "Quanto tempo duram as velas pequenas?", "¿Cuánto duran las velas?"]
)
def test_how_long_a_named_product_lasts_gets_the_passage_stating_it(pipeline: Pipeline, text: str) -> None:
    """Out of scope for the intent model (no Spanish or Portuguese product phrasing): the burn times state the candles
    and the hours asked."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "40 hours" in decision.reply, (text, decision.reason_code)


def test_another_products_duration_does_not_answer(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("How long do the lampshades last?", use_llm=False).decision
    assert decision.action == "escalate", decision.reply


@pytest.mark.parametrize(
    "text", ["¿Cuánto tiempo tengo para devolver una vela?", "Quanto tempo ho per restituire una candela?"]
)
def test_the_period_to_return_a_product_is_the_return_policys(pipeline: Pipeline, text: str) -> None:
    """The return steps and the burn times were retrieved, not the policy: the passage titled with returns stating a
    period is looked up, and its sentence stating it is given."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "30 days" in decision.reply and "label" not in decision.reply, decision.reply


def test_a_follow_up_on_another_size_or_product_of_a_duration_question(pipeline: Pipeline) -> None:
    """ "¿y las grandes?" after the small candles' burn time was out of scope; "and the lampshades?" after the burn time
    got it again, a wrong fact."""
    bigger = converse(pipeline, ["¿Cuánto duran las velas pequeñas?", "¿y las grandes?"], "es")[-1]
    assert bigger.reply is not None and "80 hours" in bigger.reply, bigger.reason_code
    other = converse(pipeline, ["How long do your candles burn?", "and the lampshades?"], "en")[-1]
    assert other.action == "escalate", other.reply


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("Can I pay in instalments if my order is 80 EUR?", False),
        ("Bonjour, est-ce que je peux payer en 3 fois pour 80 euros ?", False),
        ("Can I pay in instalments for a 150 EUR lamp?", True),
    ],
)
def test_an_amount_under_the_minimum_gets_no_yes(pipeline: Pipeline, text: str, yes: bool) -> None:
    """ "Yes, from 100 EUR you can pay in 3 or 4 instalments" answered a question about 80 EUR."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "100 EUR" in decision.reply, decision.reply
    assert decision.reply.startswith(("Yes", "Oui")) == yes, decision.reply
