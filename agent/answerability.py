"""Does this passage answer THIS question? Re-ranking retrieved passages and checking what they support.

Retrieval ranks passages by how close they are to the question as a whole, so "Can I pay with
PayPal?" lands on the instalments answer (it says "pay") and "Do you ship to Japan?" on "Yes, we
deliver to the EU...". Before a passage becomes a reply, every candidate is scored again:

* **Relevance by sentence**: the question is compared (one embedding call) with each unit of the
  passage (an FAQ entry's question, each sentence of its answer or text); the passage's relevance
  is its best unit's cosine. A passage whose one sentence answers the question beats a long one
  that is vaguely on topic.
* **Support of what the question names** (``agent.entities``): each country, payment method,
  name, asked duration or asked price in the question is ``covered`` (the passage names it, or "EU" for a
  member state),
  ``contradicted`` (the passage lists other values of that kind: "EU, Switzerland, UK" for Japan),
  or ``silent`` (the passage names nothing of that kind). A name the whole knowledge base never
  mentions ("the Solène duvet cover") makes the question unanswerable.

:func:`rank` orders candidates by relevance, lifting a passage that covers everything the question
names within ``SUPPORT_MARGIN`` of the best; :func:`choose` returns the first one with enough
relevance and no unknown name. A ``contradicted`` choice is answered without asserting (its "Yes,"
is dropped: "We deliver to the EU, Switzerland and the UK..." for Japan). The method and its
thresholds were chosen on the choosing half of ``eval/datasets/answerability_demo.yaml``
(``python -m eval.training.answerability``; figures in docs/agent.md).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from agent.context import asks_condition, is_follow_up, subject_words
from agent.entities import (
    Entity,
    EntityKind,
    amounts,
    asked_topics,
    asks_availability,
    asks_contact,
    asks_how,
    asks_size,
    city_names,
    countries,
    covers_country,
    duration_words,
    entities,
    fold,
    measures,
    minimum_amounts,
    named_products,
    payment_methods,
    place_table,
    place_words,
    product_kinds,
    product_stems,
    product_topics,
    products,
    reports_problem,
    requested_topics,
    states_contact,
    states_duration,
    states_price,
    states_product,
    states_products,
    subject_topics,
    topics,
    without_topic_words,
)
from agent.entities import asks_price as names_price
from agent.smalltalk import asks_something
from knowledge.types import Hit

Support = Literal["covered", "silent", "contradicted", "unknown"]

#: A candidate covering every entity of the question is preferred to a better-ranked one within
#: this much relevance (chosen on the choosing split).
SUPPORT_MARGIN = 0.25

#: Weight of a passage's agreement with the classified intent's examples (chosen on the choosing split).
INTENT_WEIGHT = 1.5

#: Below this best-sentence cosine a passage does not answer the question (chosen on the choosing split).
MIN_RELEVANCE = 0.32

#: A passage the intent model backs: the model is this sure of a deployment intent (``rank(intent_sure=...)``)
#: and the passage's title agrees this much with the intent's examples. It needs less wording
#: (:data:`BACKED_MIN_RELEVANCE`): "je voudrais retourner une lampe" (return_policy 1.00) scores 0.27 with
#: "Comment retourner un article ?", the encoder matching "lampe" with the bulbs (0.49); "How do I join the
#: loyalty club?" (loyalty_programme 0.99) retrieves the loyalty section at 0.315; "nn trovo il codice di
#: tracciamento" (order_status 0.81) scores 0.22 with "Where is my order?", 0.50 with the promo code.
#: Set by hand (``agent.pipeline.INTENT_SURE`` is the confidence); 0.5 let a materials intent back the candles'
#: burn time (0.54) for "do you plant trees".
BACKED_AGREEMENT = 0.6
BACKED_MIN_RELEVANCE = 0.2

#: ... unless it covers the place the question names while the best candidate is about another one:
#: the place is then the point of the question, and the wording may match poorly ("Livrez-vous à
#: l'étranger ?" scores 0.28 for "Quel est le délai de livraison en Belgique ?"; set by hand).
PLACE_MIN_RELEVANCE = 0.25

#: Sentences kept from the chosen passage: the best one, and the next ones within this cosine of it.
SENTENCE_MARGIN = 0.08
MAX_SENTENCES = 2

#: Added to the cosine of a sentence containing a word of the follow-up's own ("L'express coûte
#: 9,90 EUR." for "et en express ?": the embedding alone scores it below the standard rate).
FOLLOW_UP_WORD_BONUS = 0.5
#: A word one passage alone states has this many letters at least: shorter ones are often function words the
#: tables leave out ("elles" in "contiennent-elles", stated by the gift cards' "Elles sont envoyées…").
RARE_WORD_LETTERS = 6
#: Words compared on their first letters: "return" / "returns", "retour" / "retourner".
STEM_LETTERS = 5
_CONNECTORS = frozenset({"what", "about", "also", "same", "pour", "aussi", "pareil", "meme", "chose", "para",
                         "tambien", "auch", "anche", "tambem"})

_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý0-9«\"'(])")
#: An answer's opening yes, dropped when the passage does not support what the question names.
AFFIRMATION = re.compile(r"^(yes|oui|si|sí|ja|sim)\b[\s,.:;!-]*", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (a line break ends one too)."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCES.split(line.strip()) if s.strip()]
    return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """A retrieved passage re-scored against one question.

    ``units`` are the passage's sentences (its answer's, for an FAQ entry) with ``unit_scores``
    their cosine to the question; ``relevance`` is the best of those and of the FAQ question;
    ``support`` the weakest support over the question's entities (``covered`` when it names none);
    ``score`` orders candidates (retrieval score plus intent agreement); ``elsewhere`` says that
    the sentence answering the question (an FAQ answer's first one, else the best) names a place
    that is not the one the question asks about ("in mainland France" for "shipping to
    Belgium?"): its facts are another place's; ``domestic`` that this place is only the business's
    own country (the passage gives the home market's terms). ``asserts`` is False when the passage
    was moved first past better matches of the question's wording, for what the question names:
    its opening "Yes" answers its own question, not the customer's. ``topical`` is False when the
    question names a topic (``agent.entities.topics``: returns, shipping...) the passage never
    mentions ("Are returns free from Germany?" and "We deliver to the EU..."). ``states_place`` says
    that it names the place the question asks about ("we deliver to the EU" for Seville). ``methods``
    is how many payment methods the passage names; ``unlisted`` the methods the question names (as
    written) that a list of accepted methods, moved first to answer them, does not hold ("Überweisung"
    for "We accept Visa, Mastercard..."): the reply says so. ``asks_detail`` says that the question (or a
    follow-up's own words) asks how much or how long: no "Yes" answers that ("how much?" after "Do you
    ship to Ireland?" got "Yes, we deliver to the EU...", "¿y cuánto cuestan?" "Yes, e-gift cards...").
    ``detail_follow_up`` says that the question is a follow-up whose own words ask how long or how much;
    ``titled`` that the passage's title (FAQ question or heading) names a topic the question names; ``listed`` the
    payment methods the question names (as written) that a list of accepted methods holds: the reply says so first.
    ``specific`` says that the question names a word one passage alone of the knowledge base states, or a weight or
    size, and that this passage states it (:func:`rank`): that is what the question asks about.
    ``asked_topic`` says that the question asks about a topic (``asked`` in topics.yaml: what something is made of)
    that this passage's title names ("Materials"): it is ``specific`` too, and needs less wording. ``states_city``
    says that the passage names the city the question names ("Our Paris shop…" for "a shop in Paris?"). ``unstated``
    holds the words of a yes-or-no question that the knowledge base never mentions ("physiques" in "Est-ce que vous
    faites des cartes cadeaux physiques ?"): what the passage says is given without its "Yes". ``methods_only``: the
    question names a payment method and nothing else, and this passage is the list of accepted methods that answers it.
    ``below_minimum``: the question states an amount under the one the passage says something starts from ("80 EUR"
    and "from 100 EUR you can pay in 3 or 4 instalments"): no "Yes" answers it. ``states_product``: its title names
    the question's topic and it states the kind of product the question names, the other passages titled so not
    ("Can I return a candle?" and the return policy): it needs less wording, none for a case stated after an answer.
    """

    hit: Hit
    relevance: float
    units: tuple[str, ...]
    unit_scores: tuple[float, ...]
    support: Support
    missing: tuple[Entity, ...] = ()
    score: float = 0.0
    follow_up: bool = False
    elsewhere: bool = False
    domestic: bool = False
    asserts: bool = True
    topical: bool = True
    states_place: bool = False
    asks_place: bool = False
    methods: int = 0
    unlisted: tuple[str, ...] = ()
    asks_detail: bool = False
    asks_duration: bool = False
    backed: bool = False
    detail_follow_up: bool = False
    titled: bool = False
    listed: tuple[str, ...] = ()
    specific: bool = False
    asked_topic: bool = False
    states_city: bool = False
    unstated: tuple[str, ...] = ()
    methods_only: bool = False
    below_minimum: bool = False
    states_product: bool = False

    def reply_sentences(self) -> list[str]:
        """The best sentence and the next best within ``SENTENCE_MARGIN`` (at most
        ``MAX_SENTENCES``), in passage order; an FAQ answer, or a titled section, always keeps its
        first sentence (the direct answer the rest refers to: "...we send a tracking link. You can
        also follow it...", "Our shop is open 9am to 7pm. We are closed on Sundays.")
        unless the question is a follow-up about one detail ("and for express?") or names what one sentence
        states (``specific``: "paraffin?" gets "Our candles are poured… without paraffin.", not the bed linen's
        first); for a question naming
        a place, a sentence naming places is kept too (within ``MAX_SENTENCES``). A leading "Yes,"
        is dropped when the passage contradicts what the question names, does not assert, does not
        state the place the question names, or when the question asks how much or how long."""
        if not self.units:
            return []
        best = max(self.unit_scores)
        ranked = sorted(range(len(self.units)), key=lambda i: -self.unit_scores[i])
        kept = sorted(i for i in ranked[:MAX_SENTENCES] if self.unit_scores[i] >= best - SENTENCE_MARGIN)
        if (self.hit.is_faq or self.hit.heading_path) and not self.follow_up and not self.specific and 0 not in kept:
            kept = [0, *kept][:MAX_SENTENCES]
        stating = [i for i, unit in enumerate(self.units)
                   if (self.asks_duration and states_duration(unit)) or
                   (self.asks_detail and not self.asks_duration and states_price(unit))]
        if stating and not self.follow_up and not any(i in stating for i in kept):
            # the period or price asked is stated by its own sentence: "¿Cuánto tiempo tengo para devolver una vela?"
            # got "…candles that have been lit cannot be returned." (nearest "vela"), not "You have 30 days…"
            kept = sorted({stating[0], *kept[: MAX_SENTENCES - 1]})
        if self.detail_follow_up and stating:
            # a follow-up asking how long or how much gets the sentences stating it: "elles expirent quand ?" after the
            # gift cards got "…valables un an…" and "Elles sont envoyées par e-mail à la date de votre choix.", and
            # "elles expirent au bout de combien de temps ?" the delivery date alone
            kept = [i for i in kept if i in stating] or [max(stating, key=lambda i: self.unit_scores[i])]
        if self.asks_place and not self.follow_up and len(kept) < MAX_SENTENCES:
            # a sentence giving some places' terms may be the place asked about's: "Customs duties outside
            # the EU are paid by the recipient." was left out for Switzerland and the UK, kept for Ireland
            kept = sorted({*kept, *(i for i, unit in enumerate(self.units) if _unit_places(unit))})[:MAX_SENTENCES]
        chosen = [self.units[i] for i in kept]
        # nor is a "Yes" given for a place the passage does not state: "Avete un negozio a Milano?" got
        # "Yes, Click & Collect is free…", a passage naming no place
        if self.support == "contradicted" or not self.asserts or self.asks_detail or self.unstated or \
                self.below_minimum or any(e.kind == "country" for e in self.missing):
            first = AFFIRMATION.sub("", chosen[0])
            chosen[0] = first[:1].upper() + first[1:]
        return chosen


def passage_units(hit: Hit) -> tuple[str | None, list[str]]:
    """``(title, answer/text sentences)`` of ``hit``: the title is an FAQ entry's question, else the
    document section's heading ("Opening hours"), which says what the section answers as an FAQ
    question does (its sentences alone may never name the topic: "Our shop is open 9am to 7pm")."""
    body = hit.answer if hit.answer is not None else hit.text
    return hit.question or hit.heading_path or None, sentences(body) or [body.strip()]


def passage_texts(hit: Hit) -> list[str]:
    """Every text :func:`rank` embeds for ``hit`` whatever the question: its title, its sentences and
    the title intent agreement reads (embedding them ahead of the questions leaves one encoder call
    per message: its own)."""
    title, units = passage_units(hit)
    return [*([title] if title else []), *units, agreement_title(hit)]


def agreement_title(hit: Hit) -> str:
    """What a passage's agreement with an intent's examples is measured on: an FAQ entry's question, else
    its section's own heading ("Programme de fidélité" agrees 0.79 with the loyalty examples, "À propos de
    Maison Lumière > Programme de fidélité" 0.48, under the gift cards' 0.44 + a closer wording), else its text."""
    return hit.question or (hit.headings[-1] if hit.headings else "") or hit.text


def support(question_entities: Sequence[Entity], hit: Hit, known_name: Callable[[str], bool],
            home: str | None = None) -> tuple[Support, tuple[Entity, ...]]:
    """How ``hit`` supports the entities of a question, and the ones it does not cover.

    ``known_name(name)`` says whether the knowledge base mentions a (folded) name anywhere; ``home``
    is the business's own country (a passage about "abroad" does not cover it).
    """
    body = hit.answer if hit.answer is not None else hit.text
    places, methods, folded, duration, price = _passage_facts(f"{hit.question or ''} {body}")
    worst: Support = "covered"
    missing: list[Entity] = []
    order = ("covered", "silent", "contradicted", "unknown")
    for entity in question_entities:
        if entity.kind == "country":
            state: Support = "covered" if covers_country(places, entity.value, home) else (
                "contradicted" if places else "silent")
        elif entity.kind == "payment":
            state = "covered" if entity.value in methods else ("contradicted" if methods else "silent")
        elif entity.kind == "duration":
            state = "covered" if duration else "silent"
        elif entity.kind == "price":
            state = "covered" if price else "silent"
        else:
            state = "covered" if f" {entity.value} " in folded else (
                "silent" if known_name(entity.value) else "unknown")
        if state != "covered":
            missing.append(entity)
        if order.index(state) > order.index(worst):
            worst = state
    return worst, tuple(missing)


@functools.lru_cache(maxsize=4096)
def _passage_facts(text: str) -> tuple[frozenset[str], frozenset[str], str, bool, bool]:
    """Countries, payment methods, folded text and whether it states a duration and a price, of a
    passage (the same passages come back)."""
    return (frozenset(countries(text)), frozenset(payment_methods(text)), fold(text), states_duration(text),
            states_price(text))


def _method_verdict(lists: Candidate, named: Sequence[Entity], asked: tuple[str, ...]) -> Candidate:
    """``lists`` with ``listed`` when the list of accepted methods names every method asked about, else
    ``unlisted``. A question naming a method and something else (a place: "Quanto costa la spedizione in Italia?
    E posso pagare con PayPal?") leaves no passage covering it all, and the list was taken for one without PayPal:
    "PayPal: not among the payment methods we accept", then "We accept Visa, …, PayPal", in five languages."""
    wanted = {e.value for e in named if e.kind == "payment"}
    if wanted and wanted <= payment_methods(_passage_text(lists)):
        return replace(lists, listed=asked, unlisted=())
    return replace(lists, unlisted=asked, listed=())


def rank(question: str, vector: np.ndarray, hits: Sequence[Hit], *, language: str,
         embed: Callable[[list[str]], np.ndarray], known_name: Callable[[str], bool],
         asked: str | None = None, asked_vector: np.ndarray | None = None, intent_examples: np.ndarray | None = None,
         intent_weight: float = INTENT_WEIGHT, support_margin: float = SUPPORT_MARGIN,
         home: str | None = None, intent_sure: bool = False,
         rare_word: Callable[[str], bool] | None = None) -> list[Candidate]:
    """``hits`` re-scored against ``question`` (whose unit embedding is ``vector``), best first.

    Args:
        embed: embeds texts as unit vectors (one call for every passage's units).
        known_name: whether the knowledge base mentions a folded name (:func:`kb_mentions`).
        asked: what the customer wrote when ``question`` was rewritten with an earlier turn ("and
            for express?"): its words pick the sentences, its entities replace the earlier ones
            of the same kind ("et pour la Belgique ?").
        asked_vector: the unit embedding of ``asked`` when the caller has it (embedded with the
            message); else ``asked`` is embedded here.
        intent_examples: unit embeddings of the examples of the intent the message was classified
            as, when the classifier is sure; a passage's agreement with them (best cosine of its
            FAQ question or heading) is added with ``intent_weight`` to its retrieval score.
        support_margin: how far below the best score a candidate covering every entity the
            question names is still moved first; for a follow-up naming its own country or
            payment method ("et pour la Belgique ?") that is the point of the message, and any
            relevant covering candidate is moved first; so it is when the best candidate's answer
            is another place's ("in mainland France" for Belgium): a reply must not state it.
        home: the business's own country (``Settings.default_region``): a passage about "abroad"
            does not speak of it.
        intent_sure: the intent model is sure of the intent ``intent_examples`` belong to: a topical
            passage agreeing with them by :data:`BACKED_AGREEMENT` is ``backed`` (:func:`choose`).
        rare_word: whether one passage only of the knowledge base states a (folded) word (:func:`kb_states_once`):
            such a word of the question (compared on its first letters) is what it asks about.
    """
    if not hits:
        return []
    named = _entities(question, asked, language)
    if asked is not None and asked != question and is_follow_up(asked) and hits[0].language == language:
        named = (*named, *_unknown_subjects(asked, named, known_name))
    # a follow-up naming a kind of product ("e per un divano?") asks its terms: a passage stating nothing of
    # it does not answer (the terms for abroad, given again, said nothing of sofas)
    asked_products = sorted(products(asked)) if asked is not None and asked != question and is_follow_up(asked) \
        else []
    asks_place = any(e.kind == "country" for e in named)
    asks_detail = any(e.kind in _ASKED_DETAILS for e in named)
    detail_follow_up = asked is not None and asked != question and \
        any(e.kind in _ASKED_DETAILS for e in entities(asked, language))
    # what the question is about: "Who pays for return shipping?" names shipping too, and is about returns
    question_topics = subject_topics(question)
    # a topic a question asks about by naming it (``asked`` in topics.yaml): "What are your candles made of?" is
    # answered by the passage titled "Materials", whatever the intent model says (out of scope at 0.64, or
    # product_care, whose agreement lifted the burn times: "De quoi sont faites vos bougies ?" got them)
    topic_asked = question_topics & (asked_topics() if _asks(question) else requested_topics())
    if detail_follow_up and asked is not None and not topics(asked) & topic_asked:
        # a follow-up asking how long or how much asks it of the earlier subject, not of its topic: "e quanto tempo
        # duram?" after "As vossas velas são de cera de soja?" asks the burn time (the materials section or none
        # sent it to a person), and a passage naming the topic is not the one about it ("¿y cuánto tiempo duran?"
        # after "¿Las velas llevan cera de soja?" got the care of linen: "without fabric softener")
        question_topics = question_topics - topic_asked
        topic_asked = set()
    # ... and a topic asked about that no passage's title names is one the knowledge base says nothing of: "Vos bougies
    # sont parfumées à quoi ?" and "Do you do gift wrapping?" got the burn times and the gift cards, which mention the
    # product or a word of the question; a person answers (unless a word one passage alone states is asked too:
    # "Y a-t-il de la paraffine dans la bougie parfumée ?" is answered by "…sans paraffine")
    untitled = {topic for topic in topic_asked
                if not any(topic in _passage_topics(hit.question or hit.heading_path or "") for hit in hits)}
    topic_asked -= untitled
    question_topics -= untitled
    # ... and what it is asked of is the product the earlier question named, when it names no topic: "quanto tempo
    # durano?" after "Di cosa sono fatte le vostre candele?" got the delivery times; a passage stating nothing of
    # candles does not answer it, the burn times do whatever the intent model says ("¿y cuánto duran?" after "¿De qué
    # están hechas las velas?" was out of scope)
    detail_of = named_products(question) if detail_follow_up and not question_topics else set()
    # ... and so is a question of its own asking how long a product it names lasts, naming no topic: "¿Cuánto duran las
    # velas pequeñas?" and "Quanto tempo duram as velas?" were out of scope for the intent model (no Spanish or
    # Portuguese product phrasing) and went to a person, where the burn times state the candles and the hours
    # (a follow-up naming no detail of its own too: "¿y las grandes?" after it was out of scope; one naming a product
    # asks about that one: "and the lampshades?" after the burn times got them again)
    own_products = named_products(asked) if asked is not None and asked != question else set()
    lasting = (own_products or named_products(question)) if not detail_follow_up and not question_topics and \
        _asks(question) and any(e.kind == "duration" for e in named) and not names_price(question) else set()
    # ... and its sentence is the one about what the question asks it of: "¿De qué están hechas las velas?" got
    # "Lampshades are made of linen or rattan." ("hechas" ~ "made of"); the words naming the topic are left out
    subject = without_topic_words(question, topic_asked) if topic_asked else ""
    troubleshooting_asked = asks_availability(asked or question) and not reports_problem(question)
    asked_cities = set(city_names(question))
    layout: list[tuple[Hit, str | None, list[str]]] = [(hit, *passage_units(hit)) for hit in hits]
    texts: list[str] = []
    for _, faq_question, units in layout:
        texts += ([faq_question] if faq_question else []) + units
    titles = [agreement_title(hit) for hit in hits] if intent_examples is not None else []
    follow_up = asked is not None and asked != question
    embed_asked = follow_up and asked is not None and asked_vector is None
    vectors = embed(texts + titles + ([asked] if embed_asked and asked is not None else []) +
                    ([subject] if subject else []))
    subject_vector = vectors[-1] if subject else None
    matrix = vectors[: len(texts)] @ np.asarray(vector, dtype=np.float32)
    agreement = ((vectors[len(texts):len(texts) + len(titles)] @ np.asarray(intent_examples).T).max(axis=1)
                 if intent_examples is not None and len(intent_examples) else np.zeros(len(hits)))
    # a follow-up's own words pick the sentence ("express"), the rewritten query the passage
    focus = vectors[len(texts) + len(titles)] if embed_asked else asked_vector
    focus_scores = vectors[: len(texts)] @ np.asarray(focus, dtype=np.float32) if follow_up else None
    # a case stated of the earlier question ("what if I've already lit it?" after "Can I return a candle?") is answered
    # by the sentence stating it, which the question read with the case is closest to ("candles that have been lit
    # cannot be returned", 0.49; 0.36-0.40 in pt/es/it/de/fr), not by a title, which says what the earlier question
    # was about (the return steps' "How do I return an item?" won at 0.46, and the case's own few words, averaged in,
    # match nothing across languages)
    conditional = follow_up and asked is not None and asks_condition(asked)
    candidates: list[Candidate] = []
    row = 0
    for n, (hit, faq_question, units) in enumerate(layout):
        heading = float(matrix[row]) if faq_question else None
        row += 1 if faq_question else 0
        scores = [float(s) for s in matrix[row:row + len(units)]]
        stated_case = max(scores) if conditional else None
        if focus_scores is not None:
            scores = [(s + float(f)) / 2 for s, f in zip(scores, focus_scores[row:row + len(units)], strict=True)]
        if subject_vector is not None and topic_asked <= _passage_topics(faq_question or ""):
            subject_scores = vectors[row:row + len(units)] @ np.asarray(subject_vector, dtype=np.float32)
            scores = [(s + float(f)) / 2 for s, f in zip(scores, subject_scores, strict=True)]
        row += len(units)
        relevance = stated_case if stated_case is not None else \
            max([*scores, *([heading] if heading is not None else [])])
        closest = int(np.argmax(scores))  # the sentence nearest the question, before a follow-up's bonus
        closest_score = scores[closest]
        # the detail asked ("express") is a word of the sentence that answers it: a follow-up's own words, or
        # a question's words its passage's title lacks ("c'est combien la livraison express ?" got the
        # standard price alone, "Combien coûte la livraison ?" names no express)
        wanted = _content_words(asked) if follow_up and asked is not None else \
            _content_words(question) - _stems(faq_question or "")
        for kind in asked_products:
            wanted |= product_stems(kind)
        if topic_asked:
            # the product the topic is asked of picks its sentence, in any language ("velas": "Our candles…")
            for kind in named_products(question):
                wanted |= product_stems(kind)
        if wanted:
            scores = [s + (FOLLOW_UP_WORD_BONUS if wanted & _stems(u) else 0.0)
                      for s, u in zip(scores, units, strict=True)]
        if follow_up and asks_detail:
            # a follow-up asking how long or how much is answered by the sentence stating it: "fino a quando?"
            # after a return question got "Returns are free in France…", not "You have 30 days…"
            scores = [s + (FOLLOW_UP_WORD_BONUS if _states_asked(u, named) else 0.0)
                      for s, u in zip(scores, units, strict=True)]
        state, missing = support(named, hit, known_name, home)
        states_city = bool(asked_cities) and any(
            f" {city} " in _passage_facts(_passage_text_of(hit, faq_question))[2] for city in asked_cities)
        if states_city and missing and all(e.kind == "country" for e in missing):
            # a passage naming the city asked about says what is there: "Our Paris shop, 12 rue des Archives…" for
            # "¿Tenéis tienda en París?", where "made in Europe" (the about page) covered France, so Paris, first
            state, missing = "covered", ()
        unstated = [kind for kind in asked_products
                    if not states_product(f"{faq_question or ''} {hit.answer or hit.text}", kind)]
        if unstated:
            state, missing = "unknown", (*missing, *(Entity("name", kind, kind) for kind in unstated))
        if troubleshooting_asked and faq_question and reports_problem(faq_question):
            # "do you have a discount code for first order?" got "My promo code doesn't work"'s checks: a question
            # whether something is offered is not answered by what to do when it fails (a person answers)
            state, missing = "unknown", (*missing, Entity("name", faq_question, faq_question))
        # the sentence that answers: an FAQ answer's first one, else the best one; and an FAQ
        # answer's sentence matching the question better than the entry's own question does
        # ("Returns are free in France" answers "Are returns free from Germany?"; "I'm in Spain,
        # what is your return policy?" asks for the policy, which holds everywhere)
        answering = _unit_places(units[0] if faq_question else units[int(np.argmax(scores))])
        if heading is not None and closest_score >= heading:
            answering |= _unit_places(units[closest])
        elsewhere = bool(answering) and any(e.kind == "country" for e in missing)
        passage = f"{faq_question or ''} {' '.join(units)}"
        titled = bool(question_topics & _passage_topics(faq_question)) if faq_question else False
        # a passage whose title is about another topic only mentions the question's in passing: "We refund within 5
        # working days of receiving your return" does not say who pays for a return ("Wer zahlt den Rückversand?",
        # refund_status 0.90, got it)
        off_title = bool(faq_question) and not titled and bool(_passage_topics(faq_question or ""))
        topical = not question_topics or (bool(question_topics & _passage_topics(passage)) and not off_title)
        candidates.append(Candidate(hit=hit, relevance=relevance, units=tuple(units), unit_scores=tuple(scores),
                                    support=state, missing=missing,
                                    score=hit.score + intent_weight * float(agreement[n]), follow_up=follow_up,
                                    elsewhere=elsewhere, domestic=elsewhere and answering == {home},
                                    topical=topical, states_place=asks_place and state == "covered",
                                    asks_place=asks_place, asks_detail=asks_detail,
                                    asks_duration=any(e.kind == "duration" for e in named),
                                    methods=len(_passage_facts(f"{faq_question or ''} {hit.answer or hit.text}")[1]),
                                    backed=intent_sure and topical and float(agreement[n]) >= BACKED_AGREEMENT,
                                    detail_follow_up=detail_follow_up, titled=titled, states_city=states_city))
    candidates.sort(key=lambda c: -c.score)
    if len(candidates) > 1 and candidates[1].score >= candidates[0].score - COMPANION_MARGIN and \
            candidates[1].relevance > candidates[0].relevance and (
                (candidates[0].backed and candidates[1].backed) or
                (not candidates[0].backed and candidates[0].relevance < MIN_RELEVANCE <= candidates[1].relevance)):
        # the intent backs both nearly as much: the wording decides ("Can I return a candle I already lit?" got the
        # return steps, 0.02 ahead on agreement; the return policy, which says lit candles are not taken back, is
        # closer to the question, 0.49 against 0.45); and a first one too far from the wording to be chosen gives way
        # to the next one as high that is not ("Is it safe to enter my card number on your site?", payment_methods
        # 0.53, put the list of methods, 0.28 by wording, 0.004 ahead of "Is payment on your site secure?", 0.65:
        # escalated)
        candidates[0], candidates[1] = candidates[1], candidates[0]
    if conditional and candidates[0].titled and not candidates[0].backed and candidates[0].support == "covered" and \
            candidates[0].relevance >= PLACE_MIN_RELEVANCE:
        # the case is checked against the passage on the exchange's topic, on less wording: "und wenn ich sie schon
        # angezündet habe?" after "Nehmt ihr Kerzen zurück?" (return_policy 0.53) scores 0.29 with "…candles that have
        # been lit cannot be returned" and went to a person. One the sure intent backs needs no such help (and, marked
        # so, would be sent again word for word: "what if I've used it?" after the return steps got them again)
        candidates[0] = replace(candidates[0], specific=True)
    asked_methods = tuple(e.surface for e in named if e.kind == "payment")
    if asked_methods and not any(c.support == "covered" for c in candidates):
        # no passage names the method asked about: the fullest list of accepted methods answers it
        # ("Kann ich per Überweisung zahlen?" got the instalments with Alma, the passage nearest "pay")
        # a question naming a method and nothing else ("Nehmt ihr Klarna?", 0.11 with the list: a brand name is most
        # of its words) is about the methods whatever its wording
        needed = 0.0 if _asks(question) and question_topics <= {"payment"} and not asks_place and not asks_detail \
            and len(named) == len(asked_methods) else PLACE_MIN_RELEVANCE
        lists = [c for c in candidates if c.methods > 1 and c.topical and c.relevance >= needed]
        fullest = max(lists, key=lambda c: (c.methods, c.relevance), default=None)
        if fullest is not None and fullest.methods > candidates[0].methods:
            candidates.remove(fullest)
            candidates.insert(0, replace(_method_verdict(fullest, named, asked_methods), asserts=False,
                                         methods_only=not needed))
        elif candidates[0].methods > 1 and candidates[0].support == "contradicted":
            candidates[0] = _method_verdict(candidates[0], named, asked_methods)
    if not candidates[0].topical:
        # the best passage never mentions what the question is about (the intent model read
        # "Are returns free from Germany?" as international shipping, whose agreement lifted it):
        # the most relevant one that does goes first, on its wording alone
        on_topic = [c for c in candidates if c.topical and c.relevance >= MIN_RELEVANCE]
        # ... or, on less wording, one whose title names the topic, or, for a question asking a price or a period, one
        # stating it: "Les frais de renvoi sont à ma charge ?" (shipping_cost 0.98) got the shipping prices, the return
        # policy ("Le retour est gratuit en France") scoring 0.30, and "¿Cómo devuelvo una lámpara?" (product_care
        # 0.85) the bulbs, "How do I return an item?" scoring 0.31; it is then what the question specifically names
        # ... and over on-topic ones stating nothing of the price or period asked, one titled with the topic stating it:
        # "¿Cuánto tiempo tengo para devolver una vela?" (product_care 0.50, the burn times first) got the return steps
        # (0.36), the return policy's 30 days scoring 0.29
        stating = [] if on_topic and not (asks_detail and not any(c.support == "covered" for c in on_topic)) else \
            [c for c in candidates if c.topical and c.relevance >= PLACE_MIN_RELEVANCE and c.support == "covered"
             and (c.titled or (asks_detail and not on_topic))]
        if stating:
            on_topic = [replace(c, specific=True) for c in stating]
        if on_topic:
            lifted = max(on_topic, key=lambda c: c.relevance)
            # one whose title names the topic is about it, one whose answer names it may only mention it: "Como
            # devolvo uma encomenda?" (order_status 0.78) got "How do I cancel my order?" (0.64: "...simply return
            # it within 30 days") where "How do I return an item?" (0.55) answers
            on_title = [c for c in on_topic if c.titled and c.relevance >= lifted.relevance - support_margin]
            if on_title and not lifted.titled:
                lifted = max(on_title, key=lambda c: c.relevance)
            candidates = [c for c in candidates if c.hit.chunk_id != lifted.hit.chunk_id]
            candidates.insert(0, replace(lifted, asserts=lifted.score >= candidates[0].score - support_margin))
        else:
            # none speaks of it: a passage on another topic is no answer ("como devuelvo una lampara" got the bulbs)
            candidates[0] = replace(candidates[0], support="unknown")
    # words of what the question names (a place, a payment method: "payer sur facture", a period: "après 3 semaines")
    # are left to their own checks
    taken = {word for e in named for word in fold(e.surface).split()} | duration_words(asked or question)
    # so are the words naming the topic asked about ("fabric" is one passage's, in "without fabric softener")
    taken |= {word for word in fold(asked or question).split() if topics(word) & topic_asked}
    rare = _rare_stems([word for word in subject_words(asked or question) if word not in taken], candidates,
                       rare_word)
    titled_topic = [c for c in candidates if topic_asked and topic_asked <= _title_topics(c)]
    if titled_topic:
        # the knowledge base has a section on what the question asks about: that one answers, or none (a passage
        # mentioning a word of the question in passing does not: "What fabric is your bedding?" got the care of
        # linen, "bedding" and "without fabric softener"; "Welches Wachs verwendet ihr?" too, backed by product_care)
        rare = []
    if sum(_states_stems(c, rare) for c in candidates) > 1:
        # two words each one passage's, two passages: neither is the point ("Is paying by card on your website
        # safe?": "website" in the gift cards, "paying" in the invoices, where the sure intent backs the security)
        rare = []
    # a weight or size asked about: "¿Tenéis velas de 400 g?" was out of scope (0.99), the burn times state "400 g";
    # so was "vos bougies font quelle taille ?". Only in a question, by a passage as close to it as an answer must be:
    # "I need 400 g of flour for a cake" and "How many calories in 400 g of pasta?" (0.26) name no candle. A follow-up
    # is read with its earlier question, as retrieval reads it: "e duram quanto tempo?" after "quanto pesam as velas
    # grandes?" and "¿y las de 400?" after "¿Las velas de 180 g cuánto duran?" were out of scope
    asking = _asks(question)
    sizes = measures(question) if asking else set()
    size_asked = asking and asks_size(question)
    if rare or sizes or size_asked or topic_asked:
        candidates = [replace(c, specific=(not rare or _states_stems(c, rare)) and sizes <= _passage_measures(c)
                              and (not size_asked or bool(_passage_measures(c)))
                              and (not (sizes or size_asked) or c.relevance >= MIN_RELEVANCE)
                              and (not topic_asked or (topic_asked <= _title_topics(c)
                                                       and c.relevance >= BACKED_MIN_RELEVANCE)),
                              asked_topic=bool(topic_asked) and topic_asked <= _title_topics(c)
                              and c.relevance >= BACKED_MIN_RELEVANCE)
                      for c in candidates]
    asked_of = named_products(question) if titled_topic and topic_asked & product_topics() else set()
    if asked_of:
        # ... of a product it states: "What is the material of the sofa?" got "Lampshades are made of linen or rattan."
        candidates = [c if not topic_asked <= _title_topics(c)
                      or all(states_product(_passage_text(c), kind) for kind in asked_of)
                      else replace(c, specific=False, asked_topic=False, support="unknown") for c in candidates]
    # ... when it states all the question names, and the question asks no size or weight ("How big is the shop in
    # Paris?" is not answered by its address)
    in_city = [c for c in candidates if c.states_city and c.topical and c.relevance >= MIN_RELEVANCE
               and c.support == "covered"]
    if question_topics and in_city and asks_availability(question) and not (sizes or size_asked or rare or follow_up):
        # whether there is something of a topic in a city it names ("Têm uma loja em Paris?": a shop), the passage
        # stating that city and that topic says: passages name a city to say where something is. The intent model
        # read click_collect ("Click & Collect is free…") or a greeting ("Is there a Maison Lumière shop in Paris?": a
        # person). Not what to do there: "Can I pick up my order at the Paris shop?" is Click & Collect
        lifted = max(in_city, key=lambda c: c.relevance)
        candidates.remove(lifted)
        candidates.insert(0, replace(lifted, specific=True))
    if titled_topic and not candidates[0].asked_topic:
        lifted = max((c for c in candidates if topic_asked <= _title_topics(c)), key=lambda c: c.relevance)
        candidates.remove(lifted)
        candidates.insert(0, replace(lifted, backed=False))
    if rare and not _states_stems(candidates[0], rare):
        # a word one passage alone states is what the question asks about: "Vos bougies contiennent-elles de la
        # paraffine ?" (product_care 0.54) got the candles' burn time, where the materials section says "sans
        # paraffine" (0.35 by wording); so did "Est-ce qu'il y a de la paraffine dans vos bougies ?" with the sure
        # intent backing the burn time (0.81), and "Le vostre candele contengono paraffina?" ("without paraffin"
        # in the English passage: the word is compared on its first letters). Over a passage the sure intent backs,
        # one as close to the question as an answer must be; else on less wording ("¿Vuestras velas llevan
        # parafina?" scores 0.31 with "…without paraffin")
        needed = MIN_RELEVANCE if candidates[0].backed else PLACE_MIN_RELEVANCE
        # ... on the question's topic: "Is paying by card on your website safe?" (payment) is not asked of the gift
        # cards, the one passage writing "website"
        stating = [c for c in candidates if c.relevance >= needed and _states_stems(c, rare) and c.topical]
        if stating:
            candidates.remove(stating[0])
            candidates.insert(0, stating[0])
        elif follow_up:
            # a follow-up's own words name what it asks about, and one passage alone states it: that passage or none
            # ("et elles contiennent de la paraffine ?" after the burn times got the lamps' bulbs, the burn times
            # being said already)
            candidates = [c if _states_stems(c, rare) else replace(c, support="unknown") for c in candidates]
        elif candidates[0].backed:
            # the passage stating it is too far from the wording, and the one the intent backs does not state what
            # the question asks about: it answers on its own wording or not at all ("et elles contiennent de la
            # paraffine ?" after a question on sizes, product_care 0.87, got the lamps' bulbs at 0.29)
            candidates[0] = replace(candidates[0], backed=False)
    best = candidates[0].score
    for_place = candidates[0].elsewhere
    if for_place:
        # its answer is another place's: one covering the place asked about, else the one listing
        # where the business does serve ("We deliver to the EU...", stated without its "Yes")
        covered = [c for c in candidates if c.support == "covered" and c.topical and c.relevance >= PLACE_MIN_RELEVANCE]
        if not covered and candidates[0].domestic:
            covered = [c for c in candidates if c.elsewhere and not c.domestic and c.topical
                       and c.relevance >= MIN_RELEVANCE]
    else:
        margin = float("inf") if follow_up and asked is not None and (entities(asked, language) or asked_products) \
            else support_margin
        # an asked price is the point of the question: a passage stating one whose wording is as close to
        # the question as the best one's is not left behind on intent agreement ("How much is express
        # delivery?", read as delivery_time 0.74, got the delivery times over the prices: 0.68 against 0.72
        # by wording). Not for a duration: many passages state one in passing ("5 working days" for a refund
        # came first for "Quanto tempo ho per restituire un articolo?")
        asks_price = any(e.kind == "price" for e in named)
        wording = candidates[0].relevance - support_margin if asks_price and candidates[0].support != "covered" \
            else float("inf")
        covered = [c for c in candidates if c.support == "covered" and (named or asked_products) and c.topical
                   and (c.score >= best - margin or c.relevance >= wording) and c.relevance >= _min_relevance(c)]
        if titled_topic or (candidates[0].specific and rare and not names_price(asked or question)
                            and all(e.kind == "price" for e in named)):
            # the passage alone stating what the question asks about stays first against a "free" read as a price:
            # "Are the candles paraffin free?" asks none, and the gift cards ("free") came before "…without
            # paraffin" ("What's the delivery charge to Germany?" asks one: "charge" is the cancellation's alone)
            covered = []
    if covered and any(c.titled for c in covered):
        # one whose title names the question's topic is about it, one naming it in its answer only mentions it: "Who
        # pays for return shipping?" got the exchange ("Return the item with the free label…") over the return policy
        # ("Returns are free in France"), both stating a price, the exchange first by intent agreement
        covered.sort(key=lambda c: not c.titled)
    elif covered and candidates[0].titled and not for_place and asks_detail:
        # ... and is not moved over one whose title does, unless it states the price or period asked of that topic:
        # "A devolução tem custos de envio?" got the cancellation ("cancelled free of charge until it ships… simply
        # return it") over the return steps; the exchange's "return the item with the free label" states it
        covered = [c for c in covered if any(_states_asked(unit, named) and question_topics & _passage_topics(unit)
                                             for unit in c.units)]
    if covered:
        candidates.remove(covered[0])
        lifted = covered[0]
        if for_place or lifted.score < best - support_margin:
            lifted = replace(lifted, asserts=False)
        candidates.insert(0, lifted)
    if candidates[0].support != "covered" and any(e.kind == "country" and e.value in place_table().regions
                                                  for e in named):
        # a region asked about (Corsica, the Azores) that no passage names: its country's terms, or abroad's, are
        # not its own. "vous livrez en Corse ?" got mainland France's price, which the English passage says leaves
        # Corsica out and the French one ("France métropolitaine") takes in: a person answers
        candidates[0] = replace(candidates[0], support="unknown")
    if asked_methods and candidates[0].support == "covered" and candidates[0].methods > 1:
        # "ok and with PayPal?" after the list of methods got the list again: the reply says yes first
        candidates[0] = replace(candidates[0], listed=asked_methods)
    if asked_methods and _asks(question) and candidates[0].methods > 1 and (
            candidates[0].relevance >= PLACE_MIN_RELEVANCE or candidates[0].unlisted) and (
            candidates[0].unlisted or candidates[0].support == "covered"):
        # a question naming a payment method is answered by the list of accepted methods, whatever the intent model
        # read: "Akzeptiert ihr Klarna?" (complaint 0.31) went to a person, where "Posso pagar com MB Way?" got "MB
        # Way: not among the payment methods we accept…"
        candidates[0] = replace(candidates[0], specific=True)
    if names_price(asked or question) and any(e.kind == "price" for e in candidates[0].missing) and \
            not candidates[0].unlisted:
        # the customer's own words ask what something costs, and the passage states no amount (nor that it is
        # free): it does not answer. "How much are your candles?" and "and how much are they?" after their
        # materials got the candles' burn time
        candidates[0] = replace(candidates[0], support="unknown")
    if detail_of:
        first = candidates[0]
        if not all(states_product(_passage_text(first), kind) for kind in detail_of):
            candidates[0] = replace(first, support="unknown")
        elif first.support == "covered" and first.relevance >= MIN_RELEVANCE:
            candidates[0] = replace(first, specific=True)
    elif lasting:
        first = candidates[0]
        stated = {kind for kind in product_kinds() if states_product(_passage_text(first), kind)}
        if stated and not lasting & stated:
            # ... and a passage on another product's duration does not answer it: "How long do the lampshades last?"
            # got the candles' burn time
            candidates[0] = replace(first, support="unknown")
        elif first.support == "covered" and first.relevance >= MIN_RELEVANCE and lasting <= stated:
            candidates[0] = replace(first, specific=True)
    if question_topics and ((asking and not asks_detail and not follow_up) or conditional):
        candidates = _of_named_product(asked if conditional and asked is not None else question, candidates,
                                       case=conditional)
    stated_amounts = amounts(asked or question)
    if stated_amounts:
        # "Can I pay in instalments if my order is 80 EUR?" got "Yes, from 100 EUR you can pay in 3 or 4…"
        candidates = [replace(c, below_minimum=bool(floor := minimum_amounts(_passage_text(c))) and
                              max(stated_amounts) < min(floor)) for c in candidates]
    if asking and not asks_detail and not follow_up:
        # a yes-or-no question naming what no passage mentions asks about that too: "Est-ce que vous faites des cartes
        # cadeaux physiques ?" got "Oui, des e-cartes cadeaux…", where the knowledge base says nothing of physical ones.
        # In another language than the passages' its words cannot be checked ("¿Tenéis tarjetas regalo físicas?" got
        # "Yes, e-gift cards…"): only a place or payment method it names is (``support``)
        taken_words = {word for e in named for word in fold(e.surface).split()}
        unchecked = tuple(e.surface for e in _unknown_subjects(question, named, known_name)) \
            if hits[0].language == language else \
            tuple(word for word in subject_words(question) if word not in taken_words and not products(word))
        candidates = [replace(c, unstated=tuple(w for w in unchecked
                                                if w[:STEM_LETTERS] not in _stems(_passage_text(c))))
                      for c in candidates]
    reach = asks_contact(asked or question) if _asks(question) else frozenset()
    if reach and not _states_contacts(candidates[0], reach):
        # a phone number or an e-mail address asked for: "Quel est le numéro de téléphone du service client ?" got the
        # shop's hours ("Le service client répond du lundi au vendredi…"), which give none. A passage giving it
        # answers, else a person
        giving = [c for c in candidates if _states_contacts(c, reach) and c.relevance >= PLACE_MIN_RELEVANCE]
        if giving:
            candidates.remove(giving[0])
            candidates.insert(0, giving[0])
        else:
            candidates[0] = replace(candidates[0], support="unknown")
    priced = named_products(asked or question) if names_price(asked or question) and not question_topics else set()
    if priced and not any(states_product(_passage_text(candidates[0]), kind) for kind in priced):
        # ... and what it asks the price of is a product the passage does not speak of: "¿Cuánto cuestan las velas?"
        # (shipping_cost 0.94) got the shipping prices; "How much is shipping for a candle?" names its topic
        candidates[0] = replace(candidates[0], support="unknown")
    if untitled and not (rare and _states_stems(candidates[0], rare)):
        candidates[0] = replace(candidates[0], support="unknown")
    return candidates


#: What the pipeline adds to a question for the models: the places or topics carried from an earlier one ("¿A qué hora
#: abrís? (paris)", "elles sont en quelle cire ? (materials, bougies)").
_CARRIED = re.compile(r"\s*\([^()]*\)\s*$")


def _asks(question: str) -> bool:
    """Whether ``question``, without what the pipeline carried to it, asks something (``asks_something``): "elles
    sont en quelle cire ? (materials, bougies)" ends with its carried words, not with its "?"."""
    return asks_something(_CARRIED.sub("", question))


@functools.lru_cache(maxsize=4096)
def _passage_topics(text: str) -> frozenset[str]:
    """The topics a passage (its title and sentences) names (the same passages come back)."""
    return frozenset(topics(text))


def _passage_text_of(hit: Hit, title: str | None) -> str:
    """A passage's title and body, as :func:`support` reads them."""
    return f"{title or ''} {hit.answer if hit.answer is not None else hit.text}"


def _of_named_product(question: str, candidates: list[Candidate], *, case: bool = False) -> list[Candidate]:
    """``candidates`` with the one titled with ``question``'s topic that states the kind of product the question names
    first, when the first one does not: whether one may return a candle is what the return policy says of candles
    ("…candles that have been lit cannot be returned"), not the steps, which name no product ("Can I return a
    candle?" and "Kann ich eine Kerze zurückgeben?" got the steps, "Posso rendere una candela?" the exchange, the
    encoder reading "candela" and little else: 0.21 with the return policy). How to do it asks the steps ("How do I
    return a candle?"). Its title naming what the question asks, it needs the wording a topic asked about needs, and
    none for a ``case`` stated after an answer (``question`` its own words: "e se já acendi a vela?" after "Como
    devolvo um artigo?" scores 0.16 with the return policy read with it, and went to a person)."""
    kinds = named_products(question)
    if not kinds or asks_how(question) or not candidates or (
            candidates[0].titled and states_products(_passage_text(candidates[0]), kinds)):
        return candidates
    needed = 0.0 if case else BACKED_MIN_RELEVANCE
    stating = [c for c in candidates if c.titled and c.support == "covered" and c.relevance >= needed
               and states_products(_passage_text(c), kinds)]
    if not stating:
        return candidates
    lifted = max(stating, key=lambda c: c.relevance)
    # a case's answer is what the question specifically names (``specific``): the intent model reads the case poorly
    # ("¿y si ya encendí la vela?" after "¿Cómo devuelvo un artículo?" was out of scope, 0.77)
    return [replace(lifted, states_product=True, specific=lifted.specific or case),
            *(c for c in candidates if c is not lifted)]


def _passage_text(candidate: Candidate) -> str:
    """``candidate``'s title and text."""
    hit = candidate.hit
    return f"{hit.question or hit.heading_path or ''} {hit.answer or hit.text}"


def _states_contacts(candidate: Candidate, kinds: frozenset[str]) -> bool:
    """Whether ``candidate`` gives every way of reaching the business in ``kinds`` (a phone number, an e-mail)."""
    return all(states_contact(_passage_text(candidate), kind) for kind in kinds)


def _title_topics(candidate: Candidate) -> frozenset[str]:
    """The topics ``candidate``'s title (FAQ question or heading path) names."""
    hit = candidate.hit
    return _passage_topics(hit.question or hit.heading_path or "")


@functools.lru_cache(maxsize=4096)
def _unit_places(sentence: str) -> frozenset[str]:
    """The places a sentence of a passage names (the same sentences come back)."""
    return frozenset(countries(sentence))


def _passage_words(candidate: Candidate) -> frozenset[str]:
    """The folded words of ``candidate``'s passage (title and text)."""
    hit = candidate.hit
    return _words_of(_passage_facts(f"{hit.question or ''} {hit.answer or hit.text}")[2])


@functools.lru_cache(maxsize=4096)
def _words_of(folded: str) -> frozenset[str]:
    return frozenset(folded.split())


def _passage_measures(candidate: Candidate) -> set[str]:
    """The weights and sizes ``candidate``'s passage (title and text) states."""
    hit = candidate.hit
    return measures(f"{hit.question or ''} {hit.answer or hit.text}")


def _rare_stems(words: Sequence[str], candidates: Sequence[Candidate],
                rare_word: Callable[[str], bool] | None) -> list[str]:
    """The first :data:`STEM_LETTERS` letters of the question's ``words`` (folded) that one candidate passage alone
    writes, in words of :data:`RARE_WORD_LETTERS` letters or more that no other passage of the knowledge base states
    either (``rare_word``, on the passage's own spelling): the question and the passage may be in two languages
    ("paraffina" and "without paraffin"), or inflect it apart. Two candidates writing it ("website", "websites")
    make it no passage's in particular."""
    if rare_word is None:
        return []
    rare: list[str] = []
    for stem in sorted({word[:STEM_LETTERS] for word in words if len(word) >= RARE_WORD_LETTERS}):
        spellings = [[word for word in _passage_words(c) if len(word) >= RARE_WORD_LETTERS
                      and word[:STEM_LETTERS] == stem] for c in candidates]
        stating = [found for found in spellings if found]
        if len(stating) == 1 and all(rare_word(word) for word in stating[0]):
            rare.append(stem)
    return rare


def _states_stems(candidate: Candidate, stems: Sequence[str]) -> bool:
    """Whether ``candidate``'s passage (title and text) holds a word of :data:`RARE_WORD_LETTERS` letters or more
    opening with one of ``stems``."""
    return any(len(word) >= RARE_WORD_LETTERS and word[:STEM_LETTERS] in stems for word in _passage_words(candidate))


def _content_words(text: str) -> set[str]:
    """The words of a follow-up that name its detail: four letters or more, not a connector (their
    first :data:`STEM_LETTERS`, so "return" meets "Returns are free")."""
    return {w[:STEM_LETTERS] for w in fold(text).split() if len(w) >= 4 and w not in _CONNECTORS}


def _stems(sentence: str) -> set[str]:
    return {w[:STEM_LETTERS] for w in fold(sentence).split()}


def choose(candidates: Sequence[Candidate], min_relevance: float = MIN_RELEVANCE) -> Candidate | None:
    """The candidate to answer from, or None when none is relevant enough, the question names
    something the knowledge base never mentions, or the best passage only gives the business's own
    country's terms for a question about another place (France's delivery price for Japan)."""
    if not candidates:
        return None
    first = candidates[0]
    # a passage moved first for the place or payment method the question names needs less wording,
    # and so does one stating the place asked about (the place is the point of the question) or the rare word or
    # size it names (``specific``), and one the intent model backs still less
    needed = min_relevance if first.asserts and not first.states_place and not first.unlisted \
        and not first.specific else min(min_relevance, PLACE_MIN_RELEVANCE)
    needed = min(needed, _min_relevance(first))  # what let it be moved first lets it answer
    if first.methods_only:
        # the list of accepted methods for a question naming a method and nothing else ("Nehmt ihr Klarna?")
        needed = 0.0
    if first.states_product:
        needed = min(needed, 0.0 if first.follow_up else BACKED_MIN_RELEVANCE)
    if first.asked_topic:
        # its title names what the question asks about: "Woraus bestehen eure Kerzen?" scores 0.25 with the English
        # materials section, "Welches Wachs verwendet ihr?" 0.23
        needed = min(needed, BACKED_MIN_RELEVANCE)
    if first.relevance < needed:
        return None
    return None if first.support == "unknown" or first.domestic else first


#: A second passage the sure intent backs joins a statement's reply within this much of the first one's score.
COMPANION_MARGIN = 0.1


def companion(question: str, candidates: Sequence[Candidate]) -> Candidate | None:
    """A second passage for a request that asks nothing in particular, reduced to its first sentence, or None.

    "je voudrais rendre une lampe", "I'd like to return a lamp", "Quiero devolver una lámpara" ask neither how
    nor how long: the sure intent backs both the return steps and the return policy, nearly as much
    (within :data:`COMPANION_MARGIN`), and the customer needs both (the steps alone left out the 30 days and
    the conditions). A question ("How do I return an item?") gets its one passage; so does a follow-up."""
    first = choose(candidates)
    if first is None or not first.backed or first.follow_up or len(candidates) < 2 or asks_something(question):
        return None
    second = candidates[1]
    if not (second.backed and second.support == "covered" and second.score >= first.score - COMPANION_MARGIN
            and second.hit.language == first.hit.language):
        return None
    return replace(second, units=second.units[:1], unit_scores=second.unit_scores[:1])


def _states_asked(sentence: str, named: Sequence[Entity]) -> bool:
    """Whether ``sentence`` states a duration or a price that ``named`` asks for."""
    kinds = {e.kind for e in named}
    return ("duration" in kinds and states_duration(sentence)) or ("price" in kinds and states_price(sentence))


def _min_relevance(candidate: Candidate) -> float:
    """The relevance a candidate needs to be moved first: less when it states the place asked about, and
    less still when the sure intent backs it ("Jusqu'à quand je peux rendre mon plaid ?": the return policy,
    stating the 30 days asked about, at 0.26 by wording, behind the return steps at 0.36)."""
    if candidate.backed:
        return _backed_min_relevance(candidate)
    if candidate.titled and candidate.asks_duration and candidate.support == "covered":
        # titled with the question's topic and stating the period or price asked, as a topic's passage found by
        # keyword is moved first (``agent.pipeline.topic_passages``): "How do I return an item and how long do I
        # have?" got the return steps for its second question, the return policy's 30 days scoring 0.30 with "and
        # how long do I have? (returns)", which no intent backs (two questions, one intent)
        return PLACE_MIN_RELEVANCE
    return PLACE_MIN_RELEVANCE if candidate.states_place else MIN_RELEVANCE


def _backed_min_relevance(candidate: Candidate) -> float:
    """The relevance a backed candidate needs: none when it states the duration or price a follow-up asks for.
    The follow-up's words name only that detail, and what it is about is the earlier question's, which the
    sure intent has read: "et j'ai combien de temps ?" after "Je peux renvoyer un plaid ?" scores 0.199 with
    "Quelle est votre politique de retour ?" (the 30 days) and got the restocking delay ("de retour sous 3 à 6
    semaines", 0.36); "¿hasta cuándo?" after "¿Cómo devuelvo una manta?" got the refund delay."""
    return 0.0 if candidate.detail_follow_up and candidate.support == "covered" else BACKED_MIN_RELEVANCE


#: The details a question asks for (rather than names): a follow-up asking one replaces the other.
_ASKED_DETAILS: frozenset[EntityKind] = frozenset({"duration", "price"})


def _entities(question: str, asked: str | None, language: str) -> tuple[Entity, ...]:
    named = entities(question, language)
    if "?" in question and states_duration(question) and not any(e.kind == "duration" for e in named):
        # a question giving a period asks whether it is within the one allowed: "je peux retourner un
        # article après 3 semaines ?" got the return label steps, where the 30 days say yes
        named = (*named, Entity("duration", "duration", "duration"))
    if asked is None or asked == question:
        return named
    own = entities(asked, language)
    kinds = {e.kind for e in own}
    if kinds & _ASKED_DETAILS:
        # the follow-up asks its own detail: "and how long?" after "How much is shipping?" asks a
        # duration, not a price too (both asked, the terms for abroad, which state both, came first)
        kinds |= _ASKED_DETAILS
    return (*own, *(e for e in named if e.kind not in kinds and e not in own))


def _unknown_subjects(asked: str, named: Sequence[Entity], known_name: Callable[[str], bool]) -> tuple[Entity, ...]:
    """The words a short follow-up names its subject by (:func:`agent.context.subject_words`) that the
    knowledge base never mentions, as names no passage covers: "et en point relais ?" after "Combien coûte
    la livraison ?" got the shipping prices again, as if they answered it (nothing is said of pickup points).
    Words of what ``named`` holds (a place, a payment method) are left to their own checks; a word is known
    in its singular or plural too ("meuble", "les meubles")."""
    taken = {word for text in (*place_words(asked), *(e.surface for e in named)) for word in fold(text).split()}
    return tuple(Entity("name", word, word) for word in subject_words(asked) if word not in taken
                 and not products(word)
                 and not any(known_name(form) for form in {word, word.removesuffix("s"), f"{word}s"}))


def kb_mentions(search: Callable[[str], Sequence[Hit]]) -> Callable[[str], bool]:
    """``known_name`` for :func:`rank`: whether a keyword search (``search(name)``, e.g. the
    knowledge base's BM25 mode) finds a passage containing the folded ``name``."""
    def known(name: str) -> bool:
        return any(f" {name} " in fold(f"{h.question or ''} {h.text}") for h in search(name))
    return known


def kb_states_once(search: Callable[[str], Sequence[Hit]]) -> Callable[[str], bool]:
    """``rare_word`` for :func:`rank`: whether a keyword search (``search(word)``, at least two hits asked) finds one
    passage only containing the folded ``word``."""
    def rare(word: str) -> bool:
        return sum(f" {word} " in fold(f"{h.question or ''} {h.text}") for h in search(word)) == 1
    return rare


class IntentExamples:
    """Unit embeddings of each intent's examples, computed on first use (the ``intent_examples``
    of :func:`rank`); thread-safe enough: a race only embeds the same examples twice."""

    def __init__(self, examples: dict[str, list[str]], embed: Callable[[list[str]], np.ndarray]) -> None:
        self._examples = examples
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def get(self, intent: str | None) -> np.ndarray | None:
        """The examples' embeddings of ``intent``, None for no intent or one without examples."""
        if intent is None or not self._examples.get(intent):
            return None
        if intent not in self._vectors:
            self._vectors[intent] = self._embed(self._examples[intent])
        return self._vectors[intent]

    def prepare(self) -> None:
        """Embed every intent's examples now, in one call, rather than one call per intent when a
        message first needs it."""
        names = [name for name, examples in self._examples.items() if examples and name not in self._vectors]
        texts = [text for name in names for text in self._examples[name]]
        if not texts:
            return
        vectors = self._embed(texts)
        start = 0
        for name in names:
            count = len(self._examples[name])
            self._vectors[name] = vectors[start:start + count]
            start += count


class CachedEmbed:
    """``embed`` with each text embedded once: the same passages' sentences come back message after
    message, so after the first few messages :func:`rank` only embeds what is new. Thread-safe;
    at most ``max_texts`` are kept (the oldest go first)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], max_texts: int = 20_000) -> None:
        self._embed = embed
        self._max = max_texts
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            fresh = self._embed(missing)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
                while len(self._vectors) > self._max:
                    self._vectors.pop(next(iter(self._vectors)))
        with self._lock:
            found = [self._vectors.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile by another thread: embed directly
            return self._embed(texts)
        return np.stack([v for v in found if v is not None])
