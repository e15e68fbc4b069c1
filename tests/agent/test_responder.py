"""The offline responder: FAQ answers in the customer's language, passage sentences, the SMS budget."""

from __future__ import annotations

from agent.responder import Question
from agent.responder.offline import answer_offline, extract, fit_parts, fits, gsm_fold, sentences
from channels.encoding import analyze
from knowledge.types import Hit


def hit(chunk_id: str, score: float, *, text: str = "", language: str = "en", question: str | None = None,
        answer: str | None = None, title: str = "FAQ") -> Hit:
    return Hit(chunk_id=chunk_id, kb="default", document_id="faq.csv", source="faq.csv", title=title, headings=(),
               text=text or f"{question}\n{answer}", language=language, tags=(), rank=1, score=score,
               dense_score=score, bm25_score=0.0, fused_score=0.0, question=question, answer=answer)


SHIPPING_EN = hit("en1", 0.82, question="How much is shipping?", answer="Shipping is 4.90 EUR, free from 60 EUR.")
SHIPPING_FR = hit("fr1", 0.80, language="fr", question="Combien coûte la livraison ?",
                  answer="La livraison coûte 4,90 EUR, offerte dès 60 EUR.")
PAYMENT_EN = hit("en2", 0.75, question="Can I pay in instalments?", answer="Yes, in 3 or 4 instalments from 100 EUR.")


def test_the_faq_answer_in_the_customers_language_is_preferred() -> None:
    answer = answer_offline([Question("livraison prix ?", (SHIPPING_EN, SHIPPING_FR))], language="fr", min_score=0.35)
    assert answer is not None
    assert answer.text == "La livraison coûte 4,90 EUR, offerte dès 60 EUR."
    assert [s.chunk_id for s in answer.sources] == ["fr1"] and answer.path == "offline"
    assert answer.sources[0].title == "Combien coûte la livraison ?"


def test_a_much_better_passage_beats_a_weak_faq_entry() -> None:
    passage = hit("p1", 0.9, text="Our shop is in Paris. It opens at 10 am every day except Monday. We love lamps.",
                  title="About")
    weak_faq = hit("f9", 0.5, question="Where are you?", answer="In Paris.")
    answer = answer_offline([Question("when does the shop open?", (passage, weak_faq))], language="en",
                            min_score=0.35)
    assert answer is not None and answer.sources[0].chunk_id == "p1"
    assert "opens at 10 am" in answer.text and "We love lamps" not in answer.text


def test_passage_sentences_closest_to_the_question_are_kept_in_order() -> None:
    passage = hit("p2", 0.8, text="Candles are poured in Grasse. They burn 40 hours. Wicks are cotton. "
                                  "Trim the wick before lighting.", title="Candles")
    assert extract("how many hours do candles burn, and the wick?", passage, limit=2) == (
        "They burn 40 hours. Trim the wick before lighting."
    )


def test_each_question_is_answered_and_weak_ones_are_left_out() -> None:
    unrelated = hit("x", 0.1, question="Gift cards?", answer="Yes.")
    answer = answer_offline(
        [Question("shipping?", (SHIPPING_EN,)), Question("instalments?", (PAYMENT_EN,)), Question("?", (unrelated,))],
        language="en", min_score=0.35,
    )
    assert answer is not None
    assert answer.text == "Shipping is 4.90 EUR, free from 60 EUR. Yes, in 3 or 4 instalments from 100 EUR."
    assert [s.chunk_id for s in answer.sources] == ["en1", "en2"]
    assert answer_offline([Question("?", (unrelated,))], language="en", min_score=0.35) is None


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
