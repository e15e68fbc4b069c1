"""Answers a customer would trip on, on the demo shop (real models), in conversations as customers text them:
acknowledgements, unreadable messages, questions a greeting/thanks/goodbye template must not answer, a
request to return something (policy and steps), whether a discount is offered, how long after a return question
whose wording misses the policy, returning an order, paying to send back, an order still not arrived, a payment
method asked after the list of methods, a word one passage alone states (across languages, whatever the intent),
a weight the knowledge base states, a customer chasing an answer, an order said to be late."""

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


@pytest.mark.parametrize(("texts", "language", "fact"), [
    # the return policy scored 0.199 by wording (under the 0.2 a backed passage needed): the restocking delay
    (["Je peux renvoyer un plaid ?", "et j'ai combien de temps ?"], "fr", "30 jours"),
    # read with "¿hasta cuándo?" the question fell to return_policy 0.55: the refund delay
    (["¿Cómo devuelvo una manta?", "¿hasta cuándo?"], "es", "30 days"),
    (["Posso restituire una coperta?", "entro quando?"], "it", "30 days"),
])
def test_how_long_after_a_return_question_is_the_return_window(
        pipeline: Pipeline, texts: list[str], language: str, fact: str) -> None:
    answer = converse(pipeline, texts, language)[-1]
    assert answer.reply is not None and fact in answer.reply and "semaines" not in answer.reply, answer.reply


@pytest.mark.parametrize(("text", "facts"), [
    ("I'd like to send back a vase", ["30 days", "return label"]),  # return_policy 0.79: escalated
    ("Do I have to pay anything to send them back?", ["free"]),  # the steps, "prepaid" but not "free"
])
def test_sending_back_is_returning(pipeline: Pipeline, text: str, facts: list[str]) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and all(fact in decision.reply for fact in facts), decision.reply


def test_returning_an_order_gets_the_return_steps_not_the_cancellation(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("Como devolvo uma encomenda?", contact_language="pt", use_llm=False).decision
    assert [s.title for s in decision.sources] == ["How do I return an item?"]


def test_whether_paying_by_card_is_safe_gets_the_secure_payment_answer(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("Is it safe to enter my card number on your site?", use_llm=False).decision
    assert decision.reply is not None and "3-D Secure" in decision.reply


def test_an_order_still_not_arrived_goes_to_a_person(pipeline: Pipeline) -> None:
    late = pipeline.analyze("ma commande n'est toujours pas arrivée, ça fait 10 jours", use_llm=False).decision
    assert (late.action, late.reason_code) == ("escalate", "late_order")
    early = pipeline.analyze("my order hasn't arrived yet, when will it come?", use_llm=False).decision
    assert early.reply is not None and "tracking" in early.reply


def test_a_method_asked_after_the_list_of_methods_gets_a_yes_not_the_list_again(pipeline: Pipeline) -> None:
    listed, paypal = converse(pipeline, ["What payment methods do you accept?", "ok and with PayPal?"], "en")
    assert listed.reply is not None and "Visa" in listed.reply
    assert paypal.reply == "PayPal: yes, among the payment methods we accept."


@pytest.mark.parametrize(("text", "fact", "wrong"), [
    ("Vos bougies contiennent-elles de la paraffine ?", "sans paraffine", "heures"),  # product_care 0.54: burn time
    ("Are your candles made with paraffin?", "without paraffin", "hours"),
    # the sure intent (product_care 0.81) backed the burn time
    ("Est-ce qu'il y a de la paraffine dans vos bougies ?", "sans paraffine", "heures"),
    # "paraffina" and the English passage's "paraffin" compared on their first letters
    ("Le vostre candele contengono paraffina?", "without paraffin", "hours"),
    ("¿Vuestras velas llevan parafina?", "without paraffin", "hours"),  # out of scope (0.71) without it
])
def test_a_word_one_passage_alone_states_is_what_the_question_asks(
        pipeline: Pipeline, text: str, fact: str, wrong: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and fact in decision.reply and wrong not in decision.reply, decision.reply
    parcel = pipeline.analyze("Where is my parcel?", use_llm=False).decision  # "parcel": the return steps alone
    assert parcel.reply is not None and "tracking" in parcel.reply


def test_two_words_each_one_passages_make_neither_the_point(pipeline: Pipeline) -> None:
    # "website" is the gift cards' word alone, "paying" the invoices': the sure intent's security answer stays
    decision = pipeline.analyze("Is paying by card on your website safe?", use_llm=False).decision
    assert decision.reply is not None and "3-D Secure" in decision.reply, decision.reply


@pytest.mark.parametrize("text", ["¿Tenéis velas de 400 g?", "Habt ihr Kerzen mit 400 g?", "Vocês têm velas de 400g?"])
def test_a_weight_the_knowledge_base_states_answers_an_out_of_scope_question(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None and "400 g" in decision.reply, decision


@pytest.mark.parametrize("text", ["Salut, vos bougies font quelle taille ?", "¿De qué tamaño son las velas?",
                                  "Wie schwer sind eure Kerzen?"])
def test_a_question_asking_the_size_is_answered_by_the_passage_stating_sizes(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and "180 g" in decision.reply and "400 g" in decision.reply, decision


@pytest.mark.parametrize("text", ["Do you have candles of 250 g?", "How big is your Paris shop?",
                                  "How many calories in 400 g of pasta?", "I need 400 g of flour for a cake"])
def test_a_weight_no_passage_states_or_no_question_about_it_is_not_answered(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate", decision


@pytest.mark.parametrize(("texts", "language"), [
    (["Bonjour, où est ma commande ?", "Toujours rien ??"], "fr"),
    (["Wo ist meine Bestellung?", "immer noch nichts"], "de"),
    (["¿Cuándo me devolvéis el dinero?", "¿todavía nada?"], "es"),
])
def test_a_customer_chasing_an_answer_goes_to_a_person(pipeline: Pipeline, texts: list[str], language: str) -> None:
    chase = converse(pipeline, texts, language)[-1]
    assert (chase.action, chase.reason_code, chase.reply) == ("escalate", "repeated_failure", None)


def test_an_order_said_to_be_late_goes_to_a_person(pipeline: Pipeline) -> None:
    late = pipeline.analyze("I'm disappointed, my parcel is late, where is it?", use_llm=False).decision
    assert (late.action, late.reason_code) == ("escalate", "late_order")


@pytest.mark.parametrize("first", ["Bonjour ! vos bougies font quelle taille ?",  # the bulbs: backed, 0.29
                                   "Elles tiennent combien d'heures, vos bougies ?"])  # the bulbs: burn times said
def test_a_passage_not_stating_the_rare_word_a_follow_up_asks_about_is_no_answer(pipeline: Pipeline,
                                                                                   first: str) -> None:
    burn, paraffin = converse(pipeline, [first, "et elles contiennent de la paraffine ?"], "fr")
    assert burn.reply is not None and "400 g" in burn.reply
    assert paraffin.reply is None or "paraffine" in paraffin.reply, paraffin.reply


@pytest.mark.parametrize(("texts", "language"), [
    (["Olá, quanto pesam as velas grandes?", "e duram quanto tempo?"], "pt"),  # out of scope 0.99
    (["¿Las velas de 180 g cuánto duran?", "¿y las de 400?"], "es"),
    (["Quanto durano le candele da 400 g?", "e quelle da 180?"], "it"),  # the bulbs: the burn times were said
])
def test_a_follow_up_after_a_weight_question_keeps_its_weights(pipeline: Pipeline, texts: list[str],
                                                               language: str) -> None:
    follow_up = converse(pipeline, texts, language)[-1]
    assert follow_up.reply is not None and "400 g" in follow_up.reply, follow_up
