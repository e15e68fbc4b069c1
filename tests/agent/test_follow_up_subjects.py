"""Follow-ups naming their own subject, on the demo shop (real models, knowledge base and intents): what the
knowledge base never mentions goes to a person rather than getting the earlier answer again, what the earlier
reply states is stated again rather than swapped for another passage, and asking whether something is free
asks its price."""

from __future__ import annotations

import pytest

from agent.context import Turn
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


def converse(pipeline: Pipeline, *texts: str) -> list[tuple[str, str | None]]:
    """``(action, reply)`` of each text, sent one after the other in one thread."""
    history: list[Turn] = []
    out: list[tuple[str, str | None]] = []
    for text in texts:
        decision = pipeline.analyze(text, history=history, use_llm=False).decision
        out.append((decision.action, decision.reply))
        history.append(Turn("customer", text))
        if decision.reply:
            history.append(Turn("bot", decision.reply))
    return out


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        # "et en point relais ?" got the shipping prices again: nothing is said of pickup points
        ("Combien coûte la livraison ?", "et par coursier ?"),
        ("How much is shipping?", "and with gift wrapping?"),
        ("Quel est le délai de livraison ?", "et en recommandé ?"),
    ],
)
def test_a_follow_up_about_something_the_knowledge_base_never_mentions_goes_to_a_person(
        pipeline: Pipeline, question: str, follow_up: str) -> None:
    (first, _), (action, reply) = converse(pipeline, question, follow_up)
    assert first == "reply"
    assert action == "escalate", reply


@pytest.mark.parametrize(
    ("question", "follow_up", "expected"),
    [
        ("Combien coûte la livraison ?", "et pour les meubles ?", "29 EUR"),
        ("Combien coûte la livraison ?", "et pour la Belgique ?", "12 EUR"),
        ("How much is shipping?", "and for express?", "9.90 EUR"),
    ],
)
def test_a_follow_up_about_what_the_knowledge_base_states_is_answered(
        pipeline: Pipeline, question: str, follow_up: str, expected: str) -> None:
    _, (action, reply) = converse(pipeline, question, follow_up)
    assert action == "reply" and reply is not None and expected in reply, reply


@pytest.mark.parametrize(
    ("question", "follow_up", "expected"),
    [
        # "et le dimanche ?" got the delivery times: the hours, which give Sunday's, were not to be repeated
        ("What are your shop opening hours?", "and on saturdays?", "Saturday"),
        ("Quels sont les horaires de la boutique ?", "et le mardi ?", "mardi"),
    ],
)
def test_a_follow_up_the_earlier_reply_answers_gets_it_again(
        pipeline: Pipeline, question: str, follow_up: str, expected: str) -> None:
    _, (action, reply) = converse(pipeline, question, follow_up)
    assert action == "reply" and reply is not None and expected in reply, reply


@pytest.mark.parametrize(
    ("question", "follow_up", "expected", "unexpected"),
    [
        # "c gratuit ?" after an exchange got the address change (the exchange answer was not to be repeated)
        ("Est-ce que je peux échanger un article ?", "c'est payant ?", "gratuite", "adresse"),
        ("Can I exchange an item?", "is that free?", "free label", "address"),
    ],
)
def test_asking_whether_it_is_free_is_answered_by_a_reply_saying_so(
        pipeline: Pipeline, question: str, follow_up: str, expected: str, unexpected: str) -> None:
    _, (action, reply) = converse(pipeline, question, follow_up)
    assert action == "reply" and reply is not None, reply
    assert expected in reply and unexpected not in reply, reply


@pytest.mark.parametrize(
    ("question", "addition"),
    [
        # "Order 4512" after "Where's my order???" got the tracking answer a second time
        ("Where is my order?", "the order number is 77120"),
        ("Où est ma commande ?", "commande numéro 55201"),
    ],
)
def test_a_message_that_would_get_the_last_reply_again_goes_to_a_person(
        pipeline: Pipeline, question: str, addition: str) -> None:
    (first, reply), (action, again) = converse(pipeline, question, addition)
    assert first == "reply" and reply is not None
    assert action == "escalate", again


def test_a_question_asked_again_is_answered_again(pipeline: Pipeline) -> None:
    # the policy counts repeats and escalates at RELAIS_REPEAT_FAILURE_LIMIT; a second asking is answered
    (_, first), (action, second) = converse(pipeline, "How much is shipping?", "how much is shipping?")
    assert action == "reply" and second == first


@pytest.mark.parametrize(
    ("question", "follow_up", "expected"),
    [
        # "c combien la livraison ?" then "et en express ?" got the delivery times: the earlier question was read
        # with its shorthand, then as a pronoun follow-up itself ("c'est ..."), leaving none to follow
        ("c koi le prix de la livraison ?", "et en express ?", "9,90 EUR"),
        ("C'est combien l'envoi ?", "et en express ?", "9,90 EUR"),
    ],
)
def test_a_question_opening_with_a_pronoun_and_naming_a_topic_is_followed_up(
        pipeline: Pipeline, question: str, follow_up: str, expected: str) -> None:
    _, (action, reply) = converse(pipeline, question, follow_up)
    assert action == "reply" and reply is not None and expected in reply, reply
