"""Re-ranking retrieved passages for one question, with the real multilingual embedder: the passage
covering what the question names wins, a contradicting one loses its "Yes", an unknown name abstains."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from agent.answerability import CachedEmbed, Candidate, IntentExamples, choose, kb_mentions, rank, support
from agent.entities import entities
from knowledge.embeddings import Embedder, get_embedder
from knowledge.types import Hit


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder("use-multilingual")


def faq(chunk_id: str, score: float, question: str, answer: str, language: str = "en") -> Hit:
    return Hit(chunk_id=chunk_id, kb="default", document_id="faq.csv", source="faq.csv", title="FAQ", headings=(),
               text=f"{question}\n{answer}", language=language, tags=(), rank=1, score=score, dense_score=score,
               bm25_score=0.0, fused_score=score, question=question, answer=answer)


INSTALMENTS = faq("i", 0.65, "Can I pay in instalments?",
                  "Yes, from 100 EUR you can pay in 3 or 4 interest-free instalments with Alma: choose it at checkout.")
METHODS = faq("m", 0.54, "Which payment methods do you accept?",
              "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay.")
ABROAD = faq("a", 0.6, "Do you ship abroad?",
             "Yes, we deliver to the EU, Switzerland and the UK in 4-8 working days, from 12 EUR. "
             "Customs duties outside the EU are paid by the recipient.")
CARE = faq("c", 0.4, "How do I care for linen bedding?", "Wash our linen at 40 degrees with a mild detergent.")


def ranked(embedder: Embedder, question: str, *hits: Hit, known: tuple[str, ...] = (), asked: str | None = None,
           examples: np.ndarray | None = None) -> list[Candidate]:
    vector = embedder.embed([question])[0]
    return rank(question, vector, hits, language="en", embed=embedder.embed, known_name=lambda n: n in known,
                asked=asked, intent_examples=examples)


def test_a_passage_covering_the_payment_method_beats_a_closer_one_that_does_not(embedder: Embedder) -> None:
    candidates = ranked(embedder, "Can I pay with PayPal?", INSTALMENTS, METHODS)
    assert [c.hit.chunk_id for c in candidates] == ["m", "i"]
    assert (candidates[0].support, candidates[1].support) == ("covered", "contradicted")


def test_a_contradicting_passage_is_stated_without_its_yes(embedder: Embedder) -> None:
    [candidate] = ranked(embedder, "Do you ship to Japan?", ABROAD)
    assert candidate.support == "contradicted" and [e.value for e in candidate.missing] == ["JP"]
    assert candidate.reply_sentences()[0].startswith("We deliver to the EU, Switzerland and the UK")
    [covered] = ranked(embedder, "Do you ship to Portugal?", ABROAD)
    assert covered.support == "covered" and covered.reply_sentences()[0].startswith("Yes, we deliver")


def test_a_name_the_knowledge_base_never_mentions_makes_the_question_unanswerable(embedder: Embedder) -> None:
    candidates = ranked(embedder, "How much does the Solène duvet cover cost?", CARE, METHODS)
    assert choose(candidates) is None
    # (a question on a topic the passage does not speak of, the shop's hours, is no answer whatever it names)
    known = ranked(embedder, "Can I wash the Paris linen at 40 degrees?", CARE, known=("paris",))
    assert known[0].support == "silent"  # mentioned elsewhere in the knowledge base: not a blocker


def test_intent_examples_lift_the_passage_they_agree_with(embedder: Embedder) -> None:
    examples = IntentExamples({"payment_methods": ["which cards do you take", "what payment methods are accepted"]},
                              embedder.embed)
    assert examples.get(None) is None and examples.get("unknown") is None
    vectors = examples.get("payment_methods")
    candidates = ranked(embedder, "what can I pay with", INSTALMENTS, METHODS, examples=vectors)
    assert candidates[0].hit.chunk_id == "m" and candidates[0].score > candidates[1].score


def test_a_follow_ups_own_words_pick_the_sentence(embedder: Embedder) -> None:
    shipping = faq("s", 0.7, "How much does shipping cost?",
                   "Standard shipping is 4.90 EUR and free from 60 EUR of purchases. Express delivery costs 9.90 "
                   "EUR. Furniture is delivered for 29 EUR.")
    [candidate] = ranked(embedder, "How much is shipping? and for express?", shipping, asked="and for express?")
    assert candidate.follow_up and candidate.reply_sentences() == ["Express delivery costs 9.90 EUR."]
    livraison = faq("l", 0.7, "Combien coûte la livraison ?", "La livraison standard coûte 4,90 EUR et elle est "
                    "offerte dès 60 EUR d'achat. L'express coûte 9,90 EUR. Les meubles sont livrés pour 29 EUR.",
                    language="fr")
    [french] = ranked(embedder, "Combien je paie pour la livraison ? et en express ?", livraison,
                      asked="et en express ?")
    assert french.reply_sentences() == ["L'express coûte 9,90 EUR."]  # the follow-up's own word picks it
    # the pipeline embeds the follow-up's words with the message and hands their vector over
    question = "How much is shipping? and for express?"
    vectors = embedder.embed([question, "and for express?"])
    embedded: list[str] = []

    def passages_only(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return embedder.embed(texts)

    [given] = rank(question, vectors[0], [shipping], language="en", embed=passages_only, known_name=lambda n: False,
                   asked="and for express?", asked_vector=vectors[1])
    assert given.reply_sentences() == ["Express delivery costs 9.90 EUR."] and "and for express?" not in embedded


def test_every_intents_examples_are_embedded_in_one_call(embedder: Embedder) -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return embedder.embed(texts)

    examples = IntentExamples({"payment_methods": ["which cards do you take", "can I pay with PayPal"],
                               "order_status": ["where is my order"], "empty": []}, counting)
    examples.prepare()
    assert calls == [["which cards do you take", "can I pay with PayPal", "where is my order"]]
    methods, status = examples.get("payment_methods"), examples.get("order_status")
    assert methods is not None and methods.shape == (2, embedder.dim)
    assert status is not None and np.allclose(status[0], embedder.embed(["where is my order"])[0], atol=1e-5)
    assert examples.get("empty") is None and len(calls) == 1


def test_support_reads_the_whole_passage() -> None:
    assert support(entities("Can I pay by bank transfer?", "en"), CARE, lambda _: False)[0] == "silent"
    assert support(entities("Can I pay by bank transfer?", "en"), METHODS, lambda _: False)[0] == "contradicted"
    hits = {"alba": [CARE]}
    known = kb_mentions(lambda name: hits.get(name, []))
    assert not known("alba") and not known("solene")  # found passages must contain the name


def test_cached_embed_embeds_each_text_once(embedder: Embedder) -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return embedder.embed(texts)

    cached = CachedEmbed(counting, max_texts=3)
    first = cached(["a lamp", "a candle", "a lamp"])
    again = cached(["a candle", "a lamp"])
    assert calls == [["a lamp", "a candle"]]
    assert np.allclose(first[1], again[0]) and np.allclose(first[0], first[2])
    cached(["linen", "a rug"])  # beyond three texts the oldest are dropped
    assert calls[-1] == ["linen", "a rug"] and len(cached(["a lamp"])) == 1 and calls[-1] == ["a lamp"]


HOURS = Hit(chunk_id="h", kb="default", document_id="hours.md", source="hours.md", title="Hours",
            headings=("Opening hours",),
            text="Our shop in Lyon is open Monday to Saturday from 9am to 7pm. We are closed on Sundays and on "
                 "public holidays. Customer service answers text messages during the same opening hours.",
            language="en", tags=(), rank=1, score=0.36, dense_score=0.36, bm25_score=0.0, fused_score=0.36)


def test_a_document_section_is_answered_through_its_heading_with_its_first_sentence(embedder: Embedder) -> None:
    # its sentences never say "opening hours": the heading does, as an FAQ entry's question would
    chosen = choose(ranked(embedder, "What are your opening hours?", HOURS))
    assert chosen is not None
    assert chosen.reply_sentences()[0] == "Our shop in Lyon is open Monday to Saturday from 9am to 7pm."
    sunday = choose(ranked(embedder, "Are you open on Sunday?", HOURS))  # a weekday is no unknown product name
    assert sunday is not None and "closed on Sundays" in " ".join(sunday.reply_sentences())


COST = faq("s", 0.95, "How much does shipping cost?",
           "Standard shipping in mainland France is 4.90 EUR and free from 60 EUR of purchases. Express delivery "
           "costs 9.90 EUR.")
POLICY = faq("p", 0.95, "What is your return policy?",
             "You have 30 days after delivery to return an item, unused and in its original packaging. Returns are "
             "free in France; candles that have been lit cannot be returned.")


def at_home(embedder: Embedder, question: str, *hits: Hit) -> list[Candidate]:
    """:func:`rank` for a business based in France (``Settings.default_region``)."""
    vector = embedder.embed([question])[0]
    return rank(question, vector, hits, language="en", embed=embedder.embed, known_name=lambda n: False, home="FR")


@pytest.mark.parametrize("question", ["How much is shipping to Belgium?", "How much is shipping to Brussels?",
                                      "How much do you charge to ship abroad?"])
def test_a_passage_about_another_place_gives_way_to_the_one_covering_the_place_asked(
        embedder: Embedder, question: str) -> None:
    """France's price is not Belgium's: the passage covering Belgium is answered, however much
    better the French one matches the question's wording, and its "Yes" (to "Do you ship
    abroad?") is not the customer's."""
    candidates = at_home(embedder, question, COST, ABROAD)
    assert candidates[1].hit.chunk_id == "s" and candidates[1].elsewhere and candidates[1].domestic
    assert candidates[1].score > candidates[0].score + 0.25  # beyond the support margin
    chosen = choose(candidates)
    assert chosen is not None and chosen.hit.chunk_id == "a"
    assert chosen.reply_sentences()[0].startswith("We deliver to the EU, Switzerland and the UK")


def test_the_home_countrys_passage_answers_for_home(embedder: Embedder) -> None:
    for question in ("How much is shipping to France?", "How much is shipping to Lyon?"):
        chosen = choose(at_home(embedder, question, COST, ABROAD))
        assert chosen is not None and chosen.hit.chunk_id == "s" and chosen.support == "covered"


def test_the_home_countrys_terms_are_never_given_for_a_place_nothing_covers(embedder: Embedder) -> None:
    # what the business does serve is stated, without "Yes"; with nothing else, nobody guesses
    chosen = choose(at_home(embedder, "How much is shipping to Japan?", COST, ABROAD))
    assert chosen is not None and chosen.hit.chunk_id == "a" and chosen.support == "contradicted"
    assert not chosen.reply_sentences()[0].startswith("Yes")
    assert choose(at_home(embedder, "How much is shipping to Japan?", COST)) is None


def test_a_place_named_beside_the_answer_does_not_move_it(embedder: Embedder) -> None:
    # the policy's answer (its first sentence) holds everywhere; "free in France" is a detail
    chosen = choose(at_home(embedder, "I'm in Spain, what is your return policy?", POLICY, ABROAD))
    assert chosen is not None and chosen.hit.chunk_id == "p" and not chosen.elsewhere


SHIPPING_TIME = faq("t", 0.58, "How long does delivery take?",
                    "Standard delivery (Colissimo) takes 2-4 working days in mainland France, express delivery "
                    "(Chronopost) 24 hours if ordered before 1 pm.")


def test_a_price_question_is_answered_by_the_passage_stating_prices(embedder: Embedder) -> None:
    # "how much is delivery to Paris?" got the delivery times, which retrieval ranked first
    chosen = choose(at_home(embedder, "how much is delivery to Paris?", SHIPPING_TIME, replace(COST, score=0.52)))
    assert chosen is not None and chosen.hit.chunk_id == "s"
    assert "4.90 EUR" in chosen.reply_sentences()[0]


def test_a_method_no_passage_names_gets_the_list_of_accepted_methods(embedder: Embedder) -> None:
    # "Kann ich per Überweisung zahlen?" got the instalments with Alma, the passage nearest "pay"
    candidates = ranked(embedder, "Can I pay by bank transfer?", INSTALMENTS, replace(METHODS, score=0.35))
    chosen = choose(candidates)
    assert chosen is not None and chosen.hit.chunk_id == "m" and chosen.unlisted == ("bank transfer",)
    assert chosen.reply_sentences()[0].startswith("We accept Visa")
    # a method the list holds is simply answered
    covered = choose(ranked(embedder, "Can I pay with PayPal?", INSTALMENTS, METHODS))
    assert covered is not None and covered.hit.chunk_id == "m" and not covered.unlisted


GIFT_CARDS = faq("g", 0.7, "Do you sell gift cards?",
                 "Yes, e-gift cards from 20 to 300 EUR, valid for one year on the website and in our Paris shop.")


def test_no_yes_answers_a_question_asking_how_much_or_how_long(embedder: Embedder) -> None:
    # "how much?" after "Do you ship to Ireland?" got "Yes, we deliver to the EU…", "¿y cuánto cuestan?"
    # after a gift-card question "Yes, e-gift cards…": a yes answers no question asked
    [covered] = ranked(embedder, "How much is shipping to Portugal?", ABROAD)
    assert covered.support == "covered" and covered.reply_sentences()[0].startswith("We deliver to the EU")
    [follow_up] = ranked(embedder, "Do you ship to Ireland? how much?", ABROAD, asked="how much?")
    assert follow_up.reply_sentences()[0].startswith("We deliver to the EU")
    [cards] = ranked(embedder, "Do you sell gift cards? how long are they valid?", GIFT_CARDS,
                     asked="how long are they valid?")
    assert cards.reply_sentences()[0].startswith("E-gift cards from 20 to 300 EUR")
    # a yes-or-no question keeps its yes
    [plain] = ranked(embedder, "Do you sell gift cards?", GIFT_CARDS)
    assert plain.reply_sentences()[0].startswith("Yes, e-gift cards")


DELIVERY_TIME = faq("t", 0.67, "How long does delivery take?",
                    "Standard delivery (Colissimo) takes 2-4 working days in mainland France, express delivery "
                    "(Chronopost) 24 hours if ordered before 1 pm.")
SHIPPING_COST = faq("p", 0.61, "How much does shipping cost?",
                    "Standard shipping in mainland France is 4.90 EUR and free from 60 EUR of purchases. Express "
                    "delivery costs 9.90 EUR. Furniture is delivered for 29 EUR.")


def test_the_asked_price_is_not_left_behind_on_intent_agreement(embedder: Embedder) -> None:
    """"How much is express delivery?" (delivery_time 0.74) got the delivery times: the intent's agreement
    lifted them far over the prices, which are nearly as close to the question's wording and state a price."""
    examples = IntentExamples({"delivery_time": ["how long does delivery take", "how many days for shipping",
                                                 "do you offer express delivery", "what are your delivery times"]},
                              embedder.embed).get("delivery_time")
    candidates = ranked(embedder, "How much is express delivery?", DELIVERY_TIME, SHIPPING_COST, examples=examples)
    assert candidates[0].hit.chunk_id == "p"
    assert "Express delivery costs 9.90 EUR." in candidates[0].reply_sentences()


RETURN_LABEL = faq("l", 0.52, "How do I return an item?",
                   "Request a prepaid return label in My account > My orders > Return, print it and drop the parcel "
                   "at any post office or Mondial Relay point.")
RETURN_POLICY = faq("r", 0.40, "What is your return policy?",
                    "You have 30 days after delivery to return an item, unused and in its original packaging. "
                    "Returns are free in France; candles that have been lit cannot be returned.")


@pytest.mark.parametrize("question", ["Can I still return an item after 3 weeks?",
                                      "Posso ancora restituire un articolo dopo 3 settimane?"])
def test_a_question_giving_a_period_gets_the_period_allowed(embedder: Embedder, question: str) -> None:
    """"je peux retourner un article après 3 semaines ?" got the return label steps: a question stating a
    period asks whether it is within the one allowed, which the return policy states."""
    candidates = ranked(embedder, question, RETURN_LABEL, RETURN_POLICY)
    assert candidates[0].hit.chunk_id == "r"
    assert [e.kind for e in candidates[0].missing] == []


def test_a_passage_saying_it_is_free_states_a_price(embedder: Embedder) -> None:
    """"is there a fee to send something back" keeps the return policy ("Returns are free in France"): the
    prices of shipping are not moved first as the one passage stating an amount."""
    policy = replace(RETURN_POLICY, score=0.37)
    candidates = ranked(embedder, "is there a fee to send something back?", policy, replace(SHIPPING_COST, score=0.34))
    assert candidates[0].hit.chunk_id == "r" and candidates[0].support == "covered"


def test_a_word_of_the_question_its_passages_title_lacks_picks_the_sentence(embedder: Embedder) -> None:
    """"c'est combien la livraison express ?" got the standard price alone: "express" is the detail asked,
    and "Combien coûte la livraison ?" does not say it; the sentence naming it is kept."""
    shipping = faq("f", 0.6, "Combien coûte la livraison ?",
                   "En France métropolitaine, la livraison standard coûte 4,90 EUR et elle est offerte dès 60 EUR "
                   "d'achat. L'express coûte 9,90 EUR. Les meubles sont livrés pour 29 EUR.", language="fr")
    vector = embedder.embed(["c'est combien la livraison express ?"])[0]
    [candidate] = rank("c'est combien la livraison express ?", vector, [shipping], language="fr",
                       embed=embedder.embed, known_name=lambda n: False)
    assert "L'express coûte 9,90 EUR." in candidate.reply_sentences()


SHIPPING = faq("s", 0.7, "How much does shipping cost?",
               "Standard shipping in mainland France is 4.90 EUR and free from 60 EUR of purchases. Express delivery "
               "costs 9.90 EUR. Furniture is delivered for 29 EUR.")


@pytest.mark.parametrize(("question", "asked"), [
    ("Do you ship abroad? and for a sofa?", "and for a sofa?"),
    ("Do you ship to Germany? what about a wardrobe?", "what about a wardrobe?"),
])
def test_a_follow_up_naming_a_kind_of_product_no_passage_states_is_not_answered(
        embedder: Embedder, question: str, asked: str) -> None:
    # the terms for abroad say nothing of furniture: given again, they answered "e per un divano?" wrongly
    candidates = ranked(embedder, question, ABROAD, asked=asked)
    assert candidates[0].support == "unknown" and choose(candidates) is None


@pytest.mark.parametrize("asked", ["and for a couch?", "and an armchair?"])
def test_a_follow_up_naming_a_kind_of_product_gets_the_sentence_stating_it(embedder: Embedder, asked: str) -> None:
    [candidate] = ranked(embedder, f"How much is shipping? {asked}", SHIPPING, asked=asked)
    assert choose([candidate]) is candidate
    assert candidate.reply_sentences() == ["Furniture is delivered for 29 EUR."]


def test_a_passage_the_sure_intent_backs_needs_less_wording(embedder: Embedder) -> None:
    policy = faq("p", 0.2, "What is your return policy?",
                 "You have 30 days after delivery to return an item, unused and in its original packaging.")
    examples = embedder.embed(["what is your return policy", "how many days to return", "can I send it back"])
    question = "I'd like to give back a lamp please"
    vector = embedder.embed([question])[0]

    def ranked_for(sure: bool) -> list[Candidate]:
        return rank(question, vector, [policy], language="en", embed=embedder.embed, known_name=lambda n: False,
                    intent_examples=examples, intent_sure=sure)

    backed, unsure = ranked_for(True)[0], ranked_for(False)[0]
    assert backed.backed and not unsure.backed
    low = replace(backed, relevance=0.25)  # under MIN_RELEVANCE, over BACKED_MIN_RELEVANCE
    assert choose([low]) is low and choose([replace(low, backed=False)]) is None
    assert choose([replace(backed, relevance=0.1)]) is None  # the wording still counts


def test_a_sections_own_heading_is_what_agrees_with_the_intent(embedder: Embedder) -> None:
    # "Comment marche votre carte de fidélité ?" (loyalty_programme) got the gift cards: "À propos de Maison
    # Lumière > Programme de fidélité" agreed less with the loyalty examples than "Vendez-vous des cartes cadeaux ?"
    from agent.answerability import agreement_title
    loyalty = Hit(chunk_id="l", kb="default", document_id="about-fr.md", source="about-fr.md",
                  title="À propos de Maison Lumière", headings=("À propos de Maison Lumière", "Programme de fidélité"),
                  text="Le Club Lumière est gratuit : vous gagnez 1 point par euro dépensé.", language="fr", tags=(),
                  rank=1, score=0.3, dense_score=0.3, bm25_score=0.0, fused_score=0.3)
    gifts = faq("g", 0.45, "Vendez-vous des cartes cadeaux ?", "Oui, des e-cartes cadeaux de 20 à 300 EUR.",
                language="fr")
    assert agreement_title(loyalty) == "Programme de fidélité" and agreement_title(gifts) == gifts.question
    examples = embedder.embed(["avez-vous un programme de fidélité", "comment fonctionnent les points fidélité"])
    question = "Comment marche votre carte de fidélité ?"
    vector = embedder.embed([question])[0]
    candidates = rank(question, vector, [gifts, loyalty], language="fr", embed=embedder.embed,
                      known_name=lambda n: False, intent_examples=examples, intent_sure=True)
    assert candidates[0].hit.chunk_id == "l" and candidates[0].backed


def test_a_backed_passage_stating_the_period_asked_is_moved_first_on_less_wording(embedder: Embedder) -> None:
    # "Jusqu'à quand je peux rendre mon plaid ?" got the return steps: the policy states the 30 days asked
    # about, but its wording (0.26) was under the relevance a covering passage needed to be moved first
    steps = faq("h", 0.33, "Comment retourner un article ?", "Demandez une étiquette de retour prépayée dans Mon "
                "compte > Mes commandes > Retour, imprimez-la et déposez le colis en bureau de poste.", language="fr")
    policy = faq("p", 0.25, "Quelle est votre politique de retour ?", "Vous disposez de 30 jours après réception "
                 "pour retourner un article non utilisé, dans son emballage d'origine.", language="fr")
    examples = embedder.embed(["quelle est votre politique de retour", "comment retourner un article",
                               "combien de jours pour retourner"])
    question = "Jusqu'à quand je peux retourner mon plaid ?"
    vector = embedder.embed([question])[0]

    def first(sure: bool) -> str:
        candidates = rank(question, vector, [steps, policy], language="fr", embed=embedder.embed,
                          known_name=lambda n: False, intent_examples=examples, intent_sure=sure)
        return candidates[0].hit.chunk_id

    # without a sure intent too: titled with the question's topic (returns) and stating the period asked, it needs 0.25
    # ("How do I return an item and how long do I have?": the second question has no intent of its own)
    assert first(True) == "p" and first(False) == "p"
