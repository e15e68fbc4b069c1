"""Answers a customer would trip on, on the demo shop (real models), in conversations as customers text them:
acknowledgements, unreadable messages, questions a greeting/thanks/goodbye template must not answer, a
request to return something (policy and steps), whether a discount is offered."""

from __future__ import annotations

import pytest

from agent.context import Turn
from agent.decision import Decision
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


def converse(pipeline: Pipeline, texts: list[str], language: str | None = None) -> list[Decision]:
    """Each text in turn, the bot's replies in the history, as the inbound job gives them."""
    history: list[Turn] = []
    decisions = []
    for text in texts:
        decision = pipeline.analyze(text, contact_language=language, history=history, use_llm=False).decision
        decisions.append(decision)
        history.append(Turn("customer", text))
        if decision.reply:
            history.append(Turn("bot", decision.reply))
    return decisions


@pytest.mark.parametrize(("texts", "language", "welcome"), [
    (["Combien coûte la livraison ?", "👍"], "fr", "Avec plaisir"),
    (["How much does shipping cost?", "ok"], "en", "welcome"),
    (["¿Cuánto cuesta el envío?", "vale"], "es", "De nada"),
    (["Wie lange dauert die Lieferung?", "super"], "de", "Gern geschehen"),
])
def test_an_acknowledgement_after_an_answer_is_thanked_in_the_threads_language(
        pipeline: Pipeline, texts: list[str], language: str, welcome: str) -> None:
    ack = converse(pipeline, texts, language)[-1]
    assert (ack.action, ack.reason_code, ack.language) == ("reply", "acknowledgement", language)
    assert ack.reply is not None and welcome in ack.reply and "Maison Lumière" not in ack.reply  # no greeting


def test_an_acknowledgement_of_small_talk_gets_nothing_more(pipeline: Pipeline) -> None:
    thanks, ack = converse(pipeline, ["Thanks a lot!", "👍"], "en")
    assert thanks.reason_code == "intent_template"
    assert (ack.action, ack.reason_code, ack.reply) == ("silent", "acknowledgement", None)


@pytest.mark.parametrize(("language", "words"), [("fr", "reformuler"), ("en", "rephrase"), ("es", "reformular")])
def test_an_unreadable_message_is_asked_again_once_then_a_person_reads_it(
        pipeline: Pipeline, language: str, words: str) -> None:
    first, second = converse(pipeline, ["asdfgh qwerty", "jkjkjk lkjlkj"], language)
    assert (first.action, first.reason_code, first.language) == ("reply", "unintelligible", language)
    assert first.reply is not None and words in first.reply
    assert (second.action, second.reason_code) == ("escalate", "unintelligible")


def test_an_unreadable_message_after_an_answer_is_asked_again(pipeline: Pipeline) -> None:
    decisions = converse(pipeline, ["asdfgh", "Où est ma commande ?", "qsdfghjk"], "fr")
    assert [d.reason_code for d in decisions] == ["unintelligible", "answered_from_knowledge", "unintelligible"]
    assert decisions[-1].action == "reply"


@pytest.mark.parametrize(("texts", "language", "fact"), [
    (["Comment je renvoie un coussin ?", "jusqu'à quand ?"], "fr", "30 jours"),
    (["¿Se puede devolver un pedido?", "¿y cuánto tiempo tengo?"], "es", "30 days"),
    (["Come posso restituire un articolo?", "fino a quando?"], "it", "30 days"),
])
def test_a_question_after_an_answer_is_a_follow_up_never_a_goodbye(
        pipeline: Pipeline, texts: list[str], language: str, fact: str) -> None:
    answer = converse(pipeline, texts, language)[-1]
    assert answer.reason_code == "answered_from_knowledge" and answer.reply is not None and fact in answer.reply


def test_a_question_alone_read_as_small_talk_gets_no_template(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("jusqu'à quand ?", contact_language="fr", use_llm=False).decision
    assert decision.path != "template" and "Au revoir" not in (decision.reply or "")


@pytest.mark.parametrize(("text", "facts"), [
    ("je voudrais rendre une lampe", ["30 jours", "étiquette"]),
    ("I'd like to return a lamp", ["30 days", "return label"]),
    ("Quiero devolver una lámpara", ["30 days", "return label"]),
])
def test_a_request_to_return_gets_the_period_and_the_steps(pipeline: Pipeline, text: str, facts: list[str]) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and all(fact in decision.reply for fact in facts), decision.reply
    assert len(decision.sources) == 2


def test_a_question_on_returns_gets_the_one_passage_closest_to_it(pipeline: Pipeline) -> None:
    lit = pipeline.analyze("Can I return a candle I already lit?", use_llm=False).decision
    assert lit.reply is not None and "lit cannot be returned" in lit.reply and len(lit.sources) == 1
    how = pipeline.analyze("How do I return an item?", use_llm=False).decision
    assert how.reply is not None and how.reply.startswith("Request a prepaid return label") and len(how.sources) == 1


@pytest.mark.parametrize("text", ["do you have a discount code for first order?",
                                  "Vous avez un code promo pour les nouveaux clients ?",
                                  "Gibt es einen Rabattcode für die erste Bestellung?"])
def test_whether_a_discount_is_offered_is_not_answered_by_the_troubleshooting(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate", decision.reply


def test_a_code_that_fails_is_still_troubleshot(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("my discount code gets rejected at checkout", use_llm=False).decision
    assert decision.reply is not None and "end date" in decision.reply
