"""The offline responder: the chosen passage's best sentences, one language per SMS, the SMS budget."""

from __future__ import annotations

from dataclasses import replace

from agent.answerability import MIN_RELEVANCE, Candidate, Support
from agent.responder import Question
from agent.responder.offline import (
    answer_offline,
    fit_parts,
    fits,
    gsm_fold,
    language_notice,
    sentences,
)
from channels.encoding import analyze
from knowledge.types import Hit


def hit(chunk_id: str, score: float, *, text: str = "", language: str = "en", question: str | None = None,
        answer: str | None = None, title: str = "FAQ") -> Hit:
    return Hit(chunk_id=chunk_id, kb="default", document_id="faq.csv", source="faq.csv", title=title, headings=(),
               text=text or f"{question}\n{answer}", language=language, tags=(), rank=1, score=score,
               dense_score=score, bm25_score=0.0, fused_score=0.0, question=question, answer=answer)


def candidate(h: Hit, relevance: float, scores: tuple[float, ...] | None = None, *, support: Support = "covered",
              follow_up: bool = False) -> Candidate:
    units = tuple(sentences(h.answer if h.answer is not None else h.text))
    return Candidate(hit=h, relevance=relevance, units=units, unit_scores=scores or (relevance,) * len(units),
                     support=support, score=relevance, follow_up=follow_up)


def ask(text: str, *candidates: Candidate) -> Question:
    return Question(text, tuple(c.hit for c in candidates), candidates)


SHIPPING_EN = hit("en1", 0.82, question="How much is shipping?",
                  answer="Standard shipping is 4.90 EUR. Express costs 9.90 EUR. Furniture is 29 EUR.")
SHIPPING_FR = hit("fr1", 0.80, language="fr", question="Combien coûte la livraison ?",
                  answer="La livraison coûte 4,90 EUR, offerte dès 60 EUR.")
ABROAD_EN = hit("en3", 0.7, question="Do you ship abroad?",
                answer="Yes, we deliver to the EU, Switzerland and the UK from 12 EUR.")
PAYMENT_EN = hit("en2", 0.75, question="Can I pay in instalments?", answer="Yes, in 3 or 4 instalments from 100 EUR.")


def test_the_chosen_passage_answers_in_one_language() -> None:
    answer = answer_offline([ask("livraison prix ?", candidate(SHIPPING_FR, 0.8)),
                             ask("and instalments?", candidate(PAYMENT_EN, 0.7))], language="fr")
    assert answer is not None
    assert answer.text == "La livraison coûte 4,90 EUR, offerte dès 60 EUR."
    assert [s.chunk_id for s in answer.sources] == ["fr1"] and answer.path == "offline"
    assert answer.sources[0].title == "Combien coûte la livraison ?"


def test_another_language_is_announced_in_the_customers_language() -> None:
    answer = answer_offline([ask("¿Cuánto cuesta el envío?", candidate(PAYMENT_EN, 0.7))], language="es")
    assert answer is not None
    assert answer.text == ("No tenemos esta información en español; le respondemos en inglés: "
                           "Yes, in 3 or 4 instalments from 100 EUR.")
    assert language_notice("de", "fr") == (
        "Diese Information haben wir nicht auf Deutsch; wir antworten auf Französisch:")
    assert language_notice("fr", "fr") is None


def test_best_sentences_of_an_faq_answer_keep_its_lead_unless_a_follow_up_asks_one_detail() -> None:
    scores = (0.5, 0.7, 0.3)
    whole = answer_offline([ask("shipping?", candidate(SHIPPING_EN, 0.7, scores))], language="en")
    detail = answer_offline([ask("and for express?", candidate(SHIPPING_EN, 0.7, scores, follow_up=True))],
                            language="en")
    assert whole is not None and whole.text == "Standard shipping is 4.90 EUR. Express costs 9.90 EUR."
    assert detail is not None and detail.text == "Express costs 9.90 EUR."


def test_a_passage_contradicting_what_the_question_names_is_stated_without_yes() -> None:
    answer = answer_offline([ask("Do you ship to Japan?", candidate(ABROAD_EN, 0.7, support="contradicted"))],
                            language="en")
    assert answer is not None and answer.text == "We deliver to the EU, Switzerland and the UK from 12 EUR."


def test_weak_or_unknown_candidates_give_no_answer() -> None:
    assert answer_offline([ask("?", candidate(PAYMENT_EN, MIN_RELEVANCE - 0.01))], language="en") is None
    assert answer_offline([ask("Solène price?", candidate(PAYMENT_EN, 0.9, support="unknown"))], language="en") is None
    answer = answer_offline([ask("shipping?", candidate(SHIPPING_FR, 0.8)), ask("?", candidate(PAYMENT_EN, 0.1))],
                            language="fr")
    assert answer is not None and [s.chunk_id for s in answer.sources] == ["fr1"]


def test_long_answers_are_cut_by_sentences_round_robin_within_two_segments() -> None:
    long_a = " ".join(f"Shipping fact number {i} is quite important to know." for i in range(8))
    long_b = " ".join(f"Payment fact number {i} is also worth reading." for i in range(8))
    text = fit_parts([long_a, long_b])
    assert analyze(text).segments <= 2
    # both questions get their first sentence before either gets a second
    assert "Shipping fact number 0" in text and "Payment fact number 0" in text
    assert text.index("Shipping fact number 0") < text.index("Payment fact number 0")


def test_accents_forcing_ucs2_are_folded_only_when_that_makes_the_reply_fit() -> None:
    short = "Votre fenêtre est prête."
    assert fit_parts([short]) == short  # fits as UCS-2: untouched
    long_fr = ("Notre boutique est ouverte du mardi au samedi de 10 h à 19 h et le dimanche de 11 h à 18 h. "
               "Le service client répond du lundi au vendredi de 9 h à 18 h, même pendant les fêtes, "
               "et vous êtes toujours bienvenu pour une démonstration de nos lampes.")
    assert analyze(long_fr).segments > 2
    fitted = fit_parts([long_fr])
    assert fits(fitted) and "fetes" in fitted and "êtes" not in fitted
    assert gsm_fold("où ça, «ici» — à côté") == 'où ca, "ici" - à coté'


def test_a_single_overlong_sentence_is_cut_at_a_word() -> None:
    text = fit_parts(["word " * 200])
    assert fits(text) and text.endswith("...")


def test_sentence_splitting_keeps_decimals_and_lines() -> None:
    assert sentences("It costs 4.90 EUR. Free from 60 EUR!\nSee My account.") == [
        "It costs 4.90 EUR.", "Free from 60 EUR!", "See My account."]


RETURN_HOW = hit("r1", 0.8, question="How do I return an item?",
                 answer="Request a prepaid return label in My account, print it and drop the parcel at a post office.")
RETURN_POLICY = hit("r2", 0.7, question="What is your return policy?",
                    answer="You have 30 days to return an item. Returns are free in France.")


def test_a_follow_up_is_not_answered_with_the_reply_already_sent() -> None:
    said = ["Request a prepaid return label in My account, print it and drop the parcel at a post office."]
    follow_up = ask("How do I return an item? and who pays the return shipping?",
                    candidate(RETURN_HOW, 0.8, follow_up=True), candidate(RETURN_POLICY, 0.6, follow_up=True))
    answer = answer_offline([follow_up], language="en", said=said)
    assert answer is not None and "Returns are free in France" in answer.text
    assert [s.chunk_id for s in answer.sources] == ["r2"]
    # nothing else relevant: the same answer rather than none
    alone = ask("How do I return an item? and then?", candidate(RETURN_HOW, 0.8, follow_up=True),
                candidate(RETURN_POLICY, MIN_RELEVANCE - 0.1, follow_up=True))
    again = answer_offline([alone], language="en", said=said)
    assert again is not None and "prepaid return label" in again.text


def test_a_question_asked_again_gets_the_same_answer() -> None:
    said = ["Request a prepaid return label in My account, print it and drop the parcel at a post office."]
    repeated = ask("How do I return an item?", candidate(RETURN_HOW, 0.8), candidate(RETURN_POLICY, 0.6))
    answer = answer_offline([repeated], language="en", said=said)
    assert answer is not None and "prepaid return label" in answer.text


def test_a_list_of_accepted_methods_given_for_another_method_says_it_is_not_among_them() -> None:
    methods = hit("m", 0.4, question="Which payment methods do you accept?",
                  answer="We accept Visa, Mastercard and PayPal.")
    listed = replace(candidate(methods, 0.45, support="contradicted"), unlisted=("Überweisung",), asserts=False)
    answer = answer_offline([ask("Kann ich per Überweisung zahlen?", listed)], language="de")
    assert answer is not None
    assert answer.text.endswith("wir antworten auf Englisch: Überweisung: not among the payment methods we accept. "
                                "We accept Visa, Mastercard and PayPal.")
