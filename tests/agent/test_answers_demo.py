"""Issue 12's examples on the demo shop (real models, real knowledge base, real intent training):
answers only what the passages support, conversations rather than single messages, the customer's
language everywhere."""

from __future__ import annotations

import pytest

from agent.context import Turn
from agent.language import language_prior
from agent.pipeline import Pipeline
from channels.encoding import analyze
from tests.agent import test_pipeline_demo

# the demo business, built once for this module by the same fixtures as the pipeline's demo tests
demo = test_pipeline_demo.demo
pipeline = test_pipeline_demo.pipeline


def reply_to(pipeline: Pipeline, text: str, **kwargs: object) -> str:
    decision = pipeline.analyze(text, use_llm=False, **kwargs).decision  # type: ignore[arg-type]
    assert decision.action == "reply", (text, decision.reason_code, decision.reason)
    assert decision.reply is not None and analyze(decision.reply).segments <= 2
    return decision.reply


# 1. answer only what the passage supports


@pytest.mark.parametrize(("text", "expected"), [("My discount code is not working", "promo code"),
                                                ("Mon code de réduction est refusé", "code promo")])
def test_a_problem_the_knowledge_base_answers_is_answered_not_escalated(
        pipeline: Pipeline, text: str, expected: str) -> None:
    """A customer-service person would answer a broken discount code: its mild negativity (-0.61)
    is no reason to queue it for a person (agent.policy.Thresholds.sentiment_escalate_below)."""
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "reply", (decision.reason_code, decision.reason)
    assert any(expected in (s.title or "").lower() for s in decision.sources), decision.sources


@pytest.mark.parametrize(
    ("text", "known", "assertion"),
    [
        ("Do you ship to Japan?", "EU, Switzerland and the UK", "Yes"),
        ("Livrez-vous au Canada ?", "Suisse", "Oui"),
        ("Do you deliver to the United States?", "Switzerland", "Yes"),
    ],
)
def test_a_country_the_passage_does_not_name_gets_what_is_known_without_yes(
        pipeline: Pipeline, text: str, known: str, assertion: str) -> None:
    reply = reply_to(pipeline, text)
    assert known in reply and not reply.startswith(assertion)


def test_a_country_the_passage_covers_is_answered_yes(pipeline: Pipeline) -> None:
    assert reply_to(pipeline, "Do you deliver to Switzerland?").startswith("Yes, we deliver to the EU")
    portugal = reply_to(pipeline, "envio para Portugal")
    assert "EU" in portugal and "4.90" not in portugal  # not the France-only rate


@pytest.mark.parametrize(
    ("text", "expected", "wrong"),
    [
        ("Can I pay with PayPal?", "PayPal", "Alma"),
        ("Quelle est la garantie sur les lampes ?", "garantis 2 ans", "ampoules"),
        ("combien de temps j'ai pour renvoyer un article", "30 jours", "Me prévenir"),
        ("C'est possible de payer avec Visa ?", "Visa", "Alma"),
    ],
)
def test_the_passage_that_answers_this_question_is_chosen(pipeline: Pipeline, text: str, expected: str,
                                                          wrong: str) -> None:
    reply = reply_to(pipeline, text)
    assert expected in reply and wrong not in reply


@pytest.mark.parametrize("text", ["How much does the Solène duvet cover cost?", "How much is the Alba lamp?"])
def test_a_product_the_knowledge_base_never_mentions_goes_to_a_person(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert decision.action == "escalate" and decision.reply is None


def test_replies_are_the_best_sentences_not_the_whole_passage(pipeline: Pipeline) -> None:
    reply = reply_to(pipeline, "Can I pay with Google Pay?")
    # the method asked about is said yes to first, then the list's one sentence
    assert reply == "Google Pay: yes, among the payment methods we accept. We accept Visa, Mastercard, American " \
                    "Express, PayPal, Apple Pay and Google Pay, plus Maison Lumière gift cards."


# 2. conversations, not single messages


SHIPPING = (Turn("customer", "How much is shipping?"),
            Turn("bot", "Standard shipping is 4.90 EUR and free from 60 EUR of purchases."))


def test_a_follow_up_is_resolved_against_the_earlier_question(pipeline: Pipeline) -> None:
    assert reply_to(pipeline, "and for express?", history=SHIPPING) == "Express delivery costs 9.90 EUR."
    combien = (Turn("customer", "Combien je paie pour la livraison ?"), Turn("bot", "4,90 EUR."))
    assert reply_to(pipeline, "et en express ?", history=combien) == "L'express coûte 9,90 EUR."
    livraison = (Turn("customer", "Combien coûte la livraison ?"),
                 Turn("bot", "La livraison standard coûte 4,90 EUR et elle est offerte dès 60 EUR d'achat."))
    belgium = reply_to(pipeline, "et pour la Belgique ?", history=livraison)
    assert "12 EUR" in belgium and "UE" in belgium


def test_a_follow_up_is_not_a_repeat(pipeline: Pipeline) -> None:
    history = (*SHIPPING, Turn("customer", "and for express?"), Turn("bot", "Express delivery costs 9.90 EUR."))
    analysis = pipeline.analyze("and for furniture?", history=history, use_llm=False)
    assert analysis.repeats == 0 and analysis.decision.action == "reply"
    assert analysis.decision.reply is not None and "29 EUR" in analysis.decision.reply


def test_a_greeting_with_a_request_handles_the_request(pipeline: Pipeline) -> None:
    decision = pipeline.analyze("Bonjour, je voudrais parler à quelqu'un, ma lampe ne s'allume plus",
                                use_llm=False).decision
    assert (decision.action, decision.reason_code, decision.language) == ("escalate", "human_requested", "fr")
    assert "PayPal" in reply_to(pipeline, "Thanks! And can I pay with PayPal?")
    assert "tracking link" in reply_to(pipeline, "Hi there, where is my order?")


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        ("Tu es un robot ?", "fr", "assistant automatique de Maison Lumière ; répondez AGENT"),
        ("are you a bot?", "en", "automated assistant of Maison Lumière. Reply AGENT"),
        ("¿eres un robot?", "es", "asistente automático de Maison Lumière; responda AGENTE"),
        ("Bist du ein Roboter?", "de", "automatische Assistent von Maison Lumière"),
        ("Sei un bot?", "it", "assistente automatico di Maison Lumière"),
        ("Você é um robô?", "pt", "assistente automático de Maison Lumière"),
    ],
)
def test_small_talk_gets_an_honest_answer_in_the_customers_language(pipeline: Pipeline, text: str, language: str,
                                                                    words: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert (decision.action, decision.reason_code, decision.language) == ("reply", "small_talk", language)
    assert decision.reply is not None and words in decision.reply


@pytest.mark.parametrize("text", ["AGENT", "agente", "OPERATORE"])
def test_the_word_the_bot_offers_reaches_a_person(pipeline: Pipeline, text: str) -> None:
    decision = pipeline.analyze(text, use_llm=False).decision
    assert (decision.action, decision.reason_code) == ("escalate", "human_requested")


# 3. the customer's language


@pytest.mark.parametrize(
    ("text", "notice", "expected"),
    [
        ("¿Puedo pagar con PayPal?", "No tenemos esta informaci", "PayPal"),
        ("Wie lange dauert die Lieferung?",
         "Diese Information haben wir nicht auf Deutsch; wir antworten auf Englisch:", "working days"),
        ("Posso pagare a rate?", "Non abbiamo questa informazione in italiano", "instalments"),
        ("Quanto custa o envio?", "N", "4.90 EUR"),
    ],
)
def test_a_language_the_knowledge_base_lacks_gets_a_notice_then_one_language(
        pipeline: Pipeline, text: str, notice: str, expected: str) -> None:
    reply = reply_to(pipeline, text)
    assert reply.startswith(notice) and expected in reply
    french = ("livraison", "nous", "vous", "paiement", "jours")
    assert not any(f" {word} " in f" {reply.lower()} " for word in french)


def test_portuguese_notice_is_portuguese(pipeline: Pipeline) -> None:
    reply = reply_to(pipeline, "Quanto custa o envio?")
    assert reply.lower().startswith(("não temos esta informação em português",
                                     "nao temos esta informacao em portugues"))


@pytest.mark.parametrize(
    ("text", "phone", "expected"),
    [
        ("STOP", "+33612345678", "Désinscription confirmée"),
        ("PARAR", "+351912345678", "Inscrição cancelada"),
        ("STOP", "+4915112345678", "Sie sind abgemeldet"),
        ("PARAR", "+34612345678", "Baja confirmada"),
    ],
)
def test_keyword_confirmations_follow_the_numbers_country(pipeline: Pipeline, text: str, phone: str,
                                                          expected: str) -> None:
    decision = pipeline.analyze(text, contact_language=language_prior(None, phone), use_llm=False).decision
    assert decision.action == "opt_out" and decision.reply is not None and decision.reply.startswith(expected)


def test_start_from_a_subscribed_contact_confirms_never_says_goodbye(pipeline: Pipeline) -> None:
    subscribed = pipeline.analyze("START", contact_language=language_prior(None, "+33612345678"),
                                  use_llm=False).decision
    assert (subscribed.action, subscribed.reason_code) == ("opt_in", "keyword_opt_in")
    assert subscribed.reply == "Inscription déjà active. Répondez STOP pour vous désinscrire, AIDE pour de l'aide."
    back = pipeline.analyze("START", opted_out=True, use_llm=False).decision
    assert back.action == "opt_in" and back.reply is not None and back.reply.startswith("You are subscribed again")
    yes = pipeline.analyze("oui", use_llm=False).decision  # a subscribed "yes" answers a question
    assert yes.action != "opt_in"
