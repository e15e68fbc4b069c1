"""Texts the lead sent as customers would (session 20, batch 2) on the demo shop, with real models: an order
cancellation is not an opt-out, a yes/no question naming what the passage does not state gets no "Yes", a question
naming a payment method gets the methods, opening on a day gets the shop's hours, a phone number nobody states goes
to a person."""

from __future__ import annotations

import pytest

from agent.cues import cues
from agent.pipeline import Pipeline
from tests.agent import test_pipeline_demo

demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


@pytest.mark.parametrize("text", ["¿Abrís los domingos?", "Aprite la domenica?", "Öffnet ihr am Montag?",
                                  "Abrem ao domingo?", "Vous êtes ouverts le lundi ?", "¿Abren el lunes?",
                                  "Siete aperti il sabato?", "Habt ihr sonntags offen?"])
def test_opening_on_a_day_gets_the_shops_hours_in_every_language(pipeline: Pipeline, text: str) -> None:
    """The opening verb names the hours topic (``topics.yaml``), which a question asks about (``asked``): the passage
    titled with it answers, whatever the intent model read (a greeting, out of scope: a person before)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None and ("10 am-7 pm" in decision.reply or "10 h à 19 h" in decision.reply)


@pytest.mark.parametrize(("text", "method"), [("Akzeptiert ihr Klarna?", "Klarna"), ("Nehmt ihr Bitcoin?", "Bitcoin"),
                                              ("¿Aceptáis Bizum?", "Bizum"), ("Accettate Satispay?", "Satispay"),
                                              ("Vocês aceitam MB Way?", "MB Way"), ("Nehmt ihr Klarna?", "Klarna"),
                                              ("Do you take Klarna?", "Klarna")])
def test_a_question_naming_a_payment_method_gets_the_accepted_methods(pipeline: Pipeline, text: str,
                                                                      method: str) -> None:
    """The list of accepted methods states whether the one named is among them, whatever the intent model read
    (a complaint, a greeting, urgent, out of scope: a person before)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None and f"{method}: not among the payment methods" in decision.reply


def test_a_payment_complaint_naming_a_method_still_goes_to_a_person(pipeline: Pipeline) -> None:
    """A statement asks nothing: the list of methods is no answer to "PayPal charged me twice"."""
    assert pipeline.analyze("PayPal charged me twice", use_llm=False).decision.action == "escalate"


@pytest.mark.parametrize("text", ["Hola, quiero anular mi pedido", "Quisiera anular mi pedido, por favor",
                                  "Buenas, quiero anular el pedido de ayer", "¿Cómo anulo mi pedido?",
                                  "Olá, quero anular a minha encomenda", "Bitte storniert meine Bestellung",
                                  "Je voudrais annuler ma commande", "Vorrei annullare il mio ordine",
                                  "Quero cancelar o meu pedido", "Ich möchte meine Bestellung stornieren"])
def test_an_order_cancelled_gets_the_cancellation_answer_not_an_opt_out(pipeline: Pipeline, text: str) -> None:
    """"anular" was read as an opt-out (0.57, asked to reply BAJA) or the order as its tracking ("¿Cómo anulo mi
    pedido?" got the tracking link): cancelling an order is a topic a request asks about too."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None
    assert "cancelled free of charge" in decision.reply or "annulée gratuitement" in decision.reply


@pytest.mark.parametrize(("text", "action"), [("anular la suscripción", "confirm_opt_out"),
                                              ("no quiero recibir más mensajes", "opt_out"),
                                              ("Je veux annuler mon abonnement aux SMS", "confirm_opt_out")])
def test_messages_cancelled_are_still_an_opt_out(pipeline: Pipeline, text: str, action: str) -> None:
    assert pipeline.analyze(text, use_llm=False).decision.action == action


@pytest.mark.parametrize(("text", "cancels"), [("quiero anular mi pedido", True), ("storniert meine Bestellung", True),
                                               ("annulez ma commande et mes SMS", False),
                                               ("cancel my subscription", False), ("where is my order?", False)])
def test_the_cancel_order_cue_needs_an_order_and_no_messages(text: str, cancels: bool) -> None:
    assert ("cancel_order" in cues(text)) is cancels


@pytest.mark.parametrize("text", ["Est-ce que vous faites des cartes cadeaux physiques ?",
                                  "Do you have physical gift cards?", "¿Tenéis tarjetas regalo físicas?",
                                  "Avete buoni regalo cartacei?",
                                  "Habt ihr Geschenkkarten aus Papier?", "Vocês têm cartões-presente físicos?"])
def test_a_yes_or_no_question_naming_what_no_passage_states_gets_no_yes(pipeline: Pipeline, text: str) -> None:
    """The knowledge base offers e-gift cards only: "Oui, des e-cartes cadeaux…" said yes to physical ones. What exists
    is stated, without the "Yes" (in another language than the passages', the question's words cannot be checked)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply" and decision.reply is not None, (text, decision.reason_code)
    assert "-gift cards" in decision.reply or "e-cartes" in decision.reply
    assert not any(yes in decision.reply for yes in ("Yes", "Oui"))


@pytest.mark.parametrize(("text", "yes"), [("Vendez-vous des cartes cadeaux ?", "Oui, des e-cartes"),
                                           ("Do you sell gift cards?", "Yes, e-gift cards"),
                                           ("Livrez-vous en Belgique ?", "Oui, nous livrons"),
                                           ("Do you deliver to Switzerland?", "Yes, we deliver")])
def test_a_question_the_passage_states_keeps_its_yes(pipeline: Pipeline, text: str, yes: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.reply is not None and decision.reply.startswith(yes), decision.reply


def test_express_abroad_gets_the_terms_abroad_without_a_yes(pipeline: Pipeline) -> None:
    """"Is express delivery available to Germany?": the knowledge base states express for mainland France only; the
    terms abroad (4-8 working days) are stated, read as no yes to express."""
    decision = pipeline.analyze("Is express delivery available to Germany?", use_llm=False).decision
    assert decision.reply is not None and "4-8 working days" in decision.reply
    assert not decision.reply.startswith("Yes") and "24 hours" not in decision.reply


@pytest.mark.parametrize("text", ["Quel est le numéro de téléphone du service client ?",
                                  "What is your customer service phone number?", "Wie ist eure E-Mail-Adresse?",
                                  "Avete un indirizzo email?", "Qual é o número de telefone da loja?",
                                  "Vous avez une adresse mail pour le service client ?",
                                  "¿Cuál es vuestro número de teléfono?"])
def test_a_phone_number_or_address_no_passage_gives_goes_to_a_person(pipeline: Pipeline, text: str) -> None:
    """"Quel est le numéro de téléphone du service client ?" got the shop's hours (store_hours 0.97), which give no
    number: a person answers."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate", (text, decision.reply)


def test_the_customers_own_address_is_not_asked_of_the_shop(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("Can I change my e-mail address?", use_llm=False).decision
    assert decision.action == "reply", (decision.reason_code, decision.reason)


def test_an_opt_out_the_model_is_sure_of_still_unsubscribes_beside_a_phone_question(pipeline: Pipeline) -> None:
    assert pipeline.analyze("Stop texting me, what is your phone number?", use_llm=False).decision.action == "opt_out"
