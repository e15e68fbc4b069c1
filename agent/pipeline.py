"""The inbound pipeline: keywords -> language -> one embedding -> sentiment, intent -> retrieval ->
policy -> responder, timed stage by stage.

* Compliance keywords are matched before any model runs; a STOP never waits for an embedding.
* The message (with its separate questions and the customer's earlier answered messages, for
  repeat detection) is embedded ONCE, in one call; sentiment, intent and retrieval all read those
  vectors (a component built on another embedding backend gets its own call, timed apart).
* :meth:`Pipeline.analyze_batch` runs each stage over the whole batch (one embedding call for all
  messages), which is where the throughput comes from; per-message timings are then the batch
  stage time divided by the batch size. The inbound batch (``agent.intake``) answers customers
  through it; a batch's LLM answers are asked concurrently (:data:`LLM_CONCURRENCY`).
* What the answerability check embeds apart from the message (the passages' sentences and titles,
  the intents' examples) is embedded once, when the pipeline is warmed up, and kept in a cache that
  outlives the pipeline (:class:`agent.answerability.CachedEmbed`, owned by ``agent.runtime``): a
  message then costs one encoder call, its own.

The pipeline is pure computation over loaded models: it reads no database and sends nothing.
``agent.runtime`` builds the shared instance; the inbound job acts on the returned decision.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from agent.accents import Accents
from agent.answerability import (
    STEM_LETTERS,
    CachedEmbed,
    Candidate,
    IntentExamples,
    agreement_title,
    choose,
    kb_mentions,
    kb_states_once,
    passage_texts,
    rank,
)
from agent.context import (
    Turn,
    answered_customer_turns,
    carry_places,
    count_repeats,
    detail_asked,
    detail_question,
    resolve_follow_up,
    split_questions,
)
from agent.cues import cues
from agent.decision import Decision, Path
from agent.entities import (
    PAYMENT_METHODS,
    asked_topics,
    asks_duration,
    countries,
    covers_country,
    entities,
    fold,
    named_products,
    payment_methods,
    place_terms,
    states_duration,
    states_products,
    subject_topics,
    topic_terms,
    topics,
    with_city_countries,
    without_brands,
    without_measures,
    without_shared_places,
)
from agent.injection import InjectionCheck, check_injection
from agent.intent.classifier import IntentClassifier, IntentPrediction
from agent.intent.spec import IntentDef, builtin_names
from agent.keywords import KeywordMatch, ReplyKind, compliance_texts, match_keyword
from agent.language import (
    DEFAULT_DETECTOR,
    SHORT_MESSAGE_WORDS,
    SUPPORTED_LANGUAGES,
    LanguageResult,
    clean_text,
    detect_language,
)
from agent.llm import LlmClient
from agent.policy import (
    ABUSE_INTENT,
    HUMAN_INTENT,
    POLICY_INTENTS,
    SMALL_TALK_INTENTS,
    THANKS_INTENT,
    Signals,
    Thresholds,
    Verdict,
    decide,
)
from agent.responder import Answer, Question
from agent.responder.llm import answer_llm
from agent.responder.offline import answer_offline
from agent.responder.prompts import BrandVoice
from agent.sentiment import SentimentModel, SentimentResult, analyze_sentiment_batch, load_sentiment_model
from agent.shorthand import expand_shorthand
from agent.smalltalk import acknowledgement, asks_something, bot_question, courtesy_language, model_text
from agent.unintelligible import asked_to_rephrase, rephrase_request, unintelligible
from channels.limits import MAX_INBOUND_CHARS
from core.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.embeddings import Embedder, get_embedder
from knowledge.types import Hit

#: Passages retrieved per question, then re-ranked by ``agent.answerability``.
TOP_K = 6
#: ... per question naming a place: the passage covering it ("we deliver to the EU") may rank below
#: others on the question's topic that are about another place (7th for "délai de livraison en Belgique").
PLACE_TOP_K = 12

#: The knowledge base language answers fall back to when it has none in the customer's language
#: (one language per SMS: every passage of a reply then comes from it).
FALLBACK_LANGUAGE = "en"

#: Passage texts embedded ahead of the questions at warm-up; a larger knowledge base is embedded as
#: questions retrieve its passages (4,000 short texts take a few seconds on one core).
PREFILL_MAX_TEXTS = 4_000

#: LLM calls in flight for one batch (each waits up to ``RELAIS_LLM_TIMEOUT_SECONDS``).
LLM_CONCURRENCY = 8

STAGES: tuple[str, ...] = ("keywords", "language", "embed", "sentiment", "intent", "retrieval", "policy",
                           "responder")


@dataclass(frozen=True)
class Inbound:
    """One message to analyse, with what the caller knows about its sender."""

    text: str
    contact_language: str | None = None
    history: tuple[Turn, ...] = ()
    opted_out: bool = False


def _within_cap(item: Inbound) -> Inbound:
    if len(item.text) <= MAX_INBOUND_CHARS and all(len(turn.text) <= MAX_INBOUND_CHARS for turn in item.history):
        return item
    history = tuple(replace(turn, text=turn.text[:MAX_INBOUND_CHARS]) for turn in item.history)
    return replace(item, text=item.text[:MAX_INBOUND_CHARS], history=history)


#: A customer message of at least this many words says which language the thread is in (shorter
#: ones are what the prior is for: "thx!", "ok", "sí").
THREAD_LANGUAGE_WORDS = SHORT_MESSAGE_WORDS + 1


def thread_language(item: Inbound, *, detector: str = DEFAULT_DETECTOR) -> str | None:
    """The language prior of ``item``: the language the customer's latest message of the thread long
    enough to tell it was read in (so answered in), else the contact's (``Inbound.contact_language``).

    A French number writing English got "Avec plaisir." for "thx!" after "how much to ship a sofa":
    the number's country outweighed the thread the customer was writing in.
    """
    for turn in reversed(item.history):
        if turn.role == "customer" and len(clean_text(turn.text).split()) >= THREAD_LANGUAGE_WORDS:
            return detect_language(turn.text, item.contact_language, detector=detector).language
    return item.contact_language


def message_language(text: str, prior: str | None, *, detector: str = DEFAULT_DETECTOR,
                     business: str | None = None) -> LanguageResult:
    """The language of ``text``: that of its words when it is only greetings or thanks of one language
    (``agent.smalltalk.courtesy_language``: the detector reads "thx" as French), else the detector's
    with ``prior``, on the text without payment brands and the ``business``'s name ("Posso pagar com
    MB Way?" from a Spanish number was read as Italian, "MB Way" weighing as English and Italian;
    "Is there a Maison Lumière store in Manchester?" as French), without the country names several
    languages write alike ("Hello, do you ship to Portugal?" from a French number was read as French) and without
    weights and sizes ("Vendete candele da 180 g?" was German)."""
    words = courtesy_language(text)
    if words is not None:
        return LanguageResult(language=words, confidence=1.0, detector="courtesy")
    # "ok", "👍" or a keyboard mash say nothing of a language: the thread's is the reply's ("vale" is Spanish)
    ack = acknowledgement(text)
    if ack is not None and (ack.language or prior):
        return LanguageResult(language=ack.language or str(prior), confidence=1.0, detector="acknowledgement")
    if unintelligible(text):
        # with nothing known of the customer, English; at confidence 0 no contact learns it
        return LanguageResult(language=prior or FALLBACK_LANGUAGE, confidence=1.0 if prior else 0.0,
                              detector="unintelligible")
    text = without_measures(without_shared_places(without_brands(text)))
    if business:
        text = re.sub(re.escape(business), " ", text, flags=re.IGNORECASE)
    return detect_language(text, prior, detector=detector)


@dataclass(frozen=True)
class Analysis:
    """Everything the pipeline found about one message, with the :class:`Decision` it led to."""

    text: str
    decision: Decision
    keyword: KeywordMatch | None = None
    language: LanguageResult | None = None
    sentiment: SentimentResult | None = None
    intent: IntentPrediction | None = None
    questions: tuple[Question, ...] = ()
    injection: InjectionCheck = field(default_factory=lambda: InjectionCheck(False))
    repeats: int = 0
    llm_fallback: str | None = None

    @property
    def hits(self) -> tuple[Hit, ...]:
        """Every retrieved passage, best first, without duplicates."""
        seen: dict[str, Hit] = {}
        for question in self.questions:
            for hit in question.hits:
                if hit.chunk_id not in seen or seen[hit.chunk_id].score < hit.score:
                    seen[hit.chunk_id] = hit
        return tuple(sorted(seen.values(), key=lambda h: -h.score))

    def to_dict(self, *, with_text: bool = False) -> dict[str, Any]:
        """The JSON form stored on ``Message.analysis`` and returned by ``agent/analyze``.

        The customer's words (the separate questions) and the reply's text are only included ``with_text``: the
        ``analysis`` column is not encrypted, unlike the message body.
        """
        intent = self.intent
        return {
            "decision": self.decision.to_dict(with_reply=with_text),
            "keyword": None if self.keyword is None else {"kind": self.keyword.kind, "keyword": self.keyword.keyword},
            "language": None if self.language is None else {
                "code": self.language.language, "confidence": round(self.language.confidence, 4),
                "detector": self.language.detector},
            "sentiment": None if self.sentiment is None else {
                "score": round(self.sentiment.score, 4), "label": self.sentiment.label,
                "confidence": round(self.sentiment.confidence, 4)},
            "intent": None if intent is None else {
                "name": intent.intent, "confidence": round(intent.confidence, 4), "escalate": intent.escalate,
                "out_of_scope": intent.is_out_of_scope,
                "alternatives": [{"name": a.name, "confidence": round(a.confidence, 4)} for a in intent.alternatives]},
            "questions": [{"best_score": round(q.best_score, 4), **({"text": q.text} if with_text else {})}
                          for q in self.questions],
            "passages": [_hit_dict(h) for h in self.hits],
            "injection": {"detected": self.injection.detected, "patterns": list(self.injection.patterns)},
            "repeats": self.repeats,
            "llm_fallback": self.llm_fallback,
            "timings_ms": self.decision.to_dict()["timings_ms"],
        }


def _examples_by_language(intents: Sequence[IntentDef]) -> dict[str, list[str]]:
    """The intents' examples per language (those given as a mapping; a plain list names no language)."""
    found: dict[str, list[str]] = defaultdict(list)
    for intent in intents:
        if isinstance(intent.examples, dict):
            for language, texts in intent.examples.items():
                found[language].extend(texts)
    return dict(found)


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {
        "chunk_id": hit.chunk_id, "document_id": hit.document_id,
        "title": hit.question or hit.heading_path or hit.title,
        "language": hit.language, "score": round(hit.score, 4), "text": hit.text[:400],
    }


def retrieve(knowledge: KnowledgeBase, text: str, vector: np.ndarray, *, kb: str, language: str | None,
             k: int = TOP_K, home: str | None = None) -> list[Hit]:
    """The passages for ``text`` in ``language``; when the knowledge base has none in it, in
    ``FALLBACK_LANGUAGE`` if it has that one (so a reply never mixes languages).

    When ``text`` names a place other than ``home`` (the business's country), the passages stating
    the terms for that place or its groups follow (:func:`place_passages`)."""
    hits = knowledge.search(text, kb=kb, language=language, k=k, query_vector=vector)
    if hits and language != FALLBACK_LANGUAGE and all(h.language_fallback for h in hits):
        fallback = knowledge.search(text, kb=kb, language=FALLBACK_LANGUAGE, k=k, query_vector=vector)
        if fallback and not fallback[0].language_fallback:
            hits = fallback
    hits += place_passages(knowledge, text, vector, hits, kb=kb, language=language, home=home)
    hits += topic_passages(knowledge, text, vector, hits, kb=kb, language=language)
    return hits + method_passages(knowledge, text, vector, hits, kb=kb, language=language)


def topic_passages(knowledge: KnowledgeBase, text: str, vector: np.ndarray, hits: Sequence[Hit], *, kb: str,
                   language: str | None) -> list[Hit]:
    """The passages whose title names the topic ``text`` asks about (``asked`` in ``topics.yaml``: materials)
    when none of ``hits`` is titled so: "Woraus bestehen eure Kerzen?" retrieved the burn times, the bulbs, the
    opening hours... and not "Materials" (the encoder reads "Kerzen" and little else). A keyword search for the
    topic's words in the hits' language finds them, scored on the question's own vector (no encoder call)."""
    wanted = topics(text) & asked_topics()
    about = subject_topics(text)
    if not wanted and about and not any(about & topics(hit.question or hit.heading_path or "") for hit in hits):
        # ... and those titled with what it is about when no hit is: "Les frais de renvoi sont à ma charge ?" (returns)
        # retrieved the shipping prices, the instalments, the invoices... and no passage on returns
        wanted = about
    # ... and those titled with it stating the period asked when no hit titled so states one: "¿Cuánto tiempo tengo para
    # devolver una vela?" retrieved the return steps and the candles' burn time, not the return policy's 30 days
    period = not wanted and bool(about) and asks_duration(text) and not any(
        about & topics(hit.question or hit.heading_path or "") and states_duration(hit.answer or hit.text)
        for hit in hits)
    # ... and those titled with it stating the kind of product named when no hit titled so states it: "e se já acendi a
    # vela?" after "Como devolvo um artigo?" retrieved the return steps, not the return policy stating the candles
    kinds = named_products(text) if not wanted and not period and about else set()
    of_kinds = bool(kinds) and not any(
        about & topics(hit.question or hit.heading_path or "")
        and states_products(f"{hit.question or ''} {hit.answer or hit.text}", kinds) for hit in hits)
    if period or of_kinds:
        wanted = about
    elif not wanted or any(wanted <= topics(hit.question or hit.heading_path or "") for hit in hits):
        return []
    seen = {hit.chunk_id for hit in hits}
    terms = " ".join(term for topic in sorted(wanted) for term in topic_terms(topic))
    found = knowledge.search(terms, kb=kb, language=hits[0].language if hits else language, k=TOP_K,
                             query_vector=vector, mode="bm25")
    return [hit for hit in found
            if hit.chunk_id not in seen and wanted <= topics(hit.question or hit.heading_path or "")
            and (not period or states_duration(hit.answer or hit.text))
            and (not of_kinds or states_products(f"{hit.question or ''} {hit.answer or hit.text}", kinds))]


def method_passages(knowledge: KnowledgeBase, text: str, vector: np.ndarray, hits: Sequence[Hit], *, kb: str,
                    language: str | None) -> list[Hit]:
    """The passages listing payment methods that ``hits`` lacks, when ``text`` names a method none of
    ``hits`` names: "Kann ich per Überweisung zahlen?" retrieved the instalments answer (it says "pay")
    and not the list of accepted methods, the answer to give when a method is not among them. A
    keyword search for every method's names finds the lists (passages naming two methods or more)."""
    asked = payment_methods(text)
    if not asked or any(asked <= payment_methods(f"{h.question or ''} {h.answer or h.text}") for h in hits):
        return []
    seen = {hit.chunk_id for hit in hits}
    terms = " ".join(alias for aliases in PAYMENT_METHODS.values() for alias in aliases)
    found = knowledge.search(terms, kb=kb, language=hits[0].language if hits else language, k=TOP_K,
                             query_vector=vector, mode="bm25")
    return [hit for hit in found if hit.chunk_id not in seen
            and len(payment_methods(f"{hit.question or ''} {hit.answer or hit.text}")) >= 2]


def place_passages(knowledge: KnowledgeBase, text: str, vector: np.ndarray, hits: Sequence[Hit], *, kb: str,
                   language: str | None, home: str | None) -> list[Hit]:
    """The passages covering each place ``text`` names other than ``home`` that ``hits`` lacks.

    A question naming a city is close to the passages on its topic, which give the home country's
    terms ("2-4 working days in mainland France" for "¿Cuántos días tarda un pedido a Madrid?"),
    and far from the one that holds for the city ("we deliver to the EU..."), which was not among
    the 12 retrieved for Madrid or Berlino. A keyword search for the names of the place's country
    and groups (:func:`agent.entities.place_terms`) in the hits' language finds the passages
    stating them; those covering the place (:func:`agent.entities.covers_country`) join the
    candidates, scored on the question's own vector, and the answerability check decides.
    """
    places = sorted(countries(text, cities=True) - {home})
    if not places:
        return []
    search_language = hits[0].language if hits else language
    seen = {hit.chunk_id for hit in hits}
    found: list[Hit] = []
    for code in places:
        for hit in knowledge.search(" ".join(place_terms(code, home)), kb=kb, language=search_language,
                                    k=PLACE_TOP_K, query_vector=vector, mode="bm25"):
            body = hit.answer if hit.answer is not None else hit.text
            if hit.chunk_id not in seen and covers_country(countries(f"{hit.question or ''} {body}"), code, home):
                seen.add(hit.chunk_id)
                found.append(hit)
    return found


#: How deep retrieval looks for the passage a sure intent agrees with (an in-memory search: no encoder call).
INTENT_DEPTH = 20
#: ... the passages within this agreement of the intent's best one (an intent may cover two FAQ entries:
#: return_policy agrees with "What is your return policy?" and "How do I return an item?" alike), at most:
INTENT_TIE = 0.05
INTENT_MAX = 2


def intent_passages(knowledge: KnowledgeBase, text: str, vector: np.ndarray, hits: Sequence[Hit], *, kb: str,
                    examples: np.ndarray, embed: Callable[[list[str]], np.ndarray]) -> list[Hit]:
    """The passages the classified intent agrees with most (their FAQ question or heading against the
    intent's ``examples``, unit embeddings; ``embed`` the cached unit embedder: the titles were embedded at
    warm-up), when retrieval ranked them below ``hits``: across languages the question's wording may miss
    them. "Quanto tempo ho per restituire un articolo?" (return_policy 0.94) retrieved "What is your return
    policy?" 7th, after the return label steps, which it then got."""
    if not hits:
        return []

    def agreement(found: Sequence[Hit]) -> np.ndarray:
        titles = embed([agreement_title(hit) for hit in found])
        return np.asarray((titles @ np.asarray(examples).T).max(axis=1))

    seen = {hit.chunk_id for hit in hits}
    rest = [hit for hit in knowledge.search(text, kb=kb, language=hits[0].language, k=INTENT_DEPTH,
                                            query_vector=vector) if hit.chunk_id not in seen]
    if not rest:
        return []
    deeper = agreement(rest)
    top = max(float(deeper.max()), float(agreement(hits).max()))
    return [hit for hit, value in zip(rest, deeper, strict=True) if value >= top - INTENT_TIE][:INTENT_MAX]


#: The intent confidence at which a passage agreeing with the intent's examples needs less wording
#: (``agent.answerability.BACKED_AGREEMENT``).
INTENT_SURE = 0.8


def _titled(chosen: Candidate, question: Question) -> bool:
    """Whether ``chosen``'s title names every topic ``question`` is about (``agent.entities.subject_topics``): "¿Quién
    paga el envío de la devolución?" and the return policy; not "Do you deliver to the shop?" and the delivery times."""
    about = subject_topics(question.text)
    return bool(about) and about <= topics(chosen.hit.question or chosen.hit.heading_path or "")


def _sure(prediction: IntentPrediction | None) -> bool:
    return prediction is not None and prediction.intent is not None and prediction.confidence >= INTENT_SURE


def _says_again(reply: str | None, history: Sequence[Turn], questions: Sequence[Question], text: str) -> bool:
    """Whether ``reply`` is the bot's last reply word for word, to a message ``text`` that is no follow-up (a
    follow-up asked again for a price or a detail the reply states is answered with it again:
    ``agent.responder.offline``) and asks no question: "qual é o horário?" after "Vocês têm loja física?", whose
    answer gave the shop's hours, went to a person; a question the last reply answered is answered again (the
    repeat count sends one asked too often to a person), what a statement adds ("the order number is 77120")
    the knowledge base has answered all it can."""
    last = next((turn.text for turn in reversed(history) if turn.role == "bot"), None)
    return reply is not None and last is not None and not any(q.asked for q in questions) and \
        not asks_something(text) and fold(reply) == fold(last)


def retrieval_depth(text: str) -> int:
    """How many passages to retrieve for ``text``: :data:`PLACE_TOP_K` when it names a place."""
    return PLACE_TOP_K if countries(text, cities=True) else TOP_K


def _keyword_language(keyword: KeywordMatch, prior: str | None) -> str:
    """The language to confirm a keyword in: the contact's (known, or their number's country's)
    when the keyword is shared by several languages ("STOP", "PARAR"), else the keyword's own."""
    if prior in SUPPORTED_LANGUAGES and (prior in keyword.languages or len(keyword.languages) > 1):
        return str(prior)
    return keyword.language


class _Clock:
    """Accumulates milliseconds per stage."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] += (now - self._last) * 1000.0
        self._last = now


class Pipeline:
    """The loaded models and knowledge base; thread-safe (the components lock what they must)."""

    def __init__(
        self,
        *,
        settings: Settings,
        knowledge: KnowledgeBase | None,
        intents: IntentClassifier | None,
        brand: BrandVoice | None = None,
        llm: LlmClient | None = None,
        sentiment: SentimentModel | None = None,
        detector: str = DEFAULT_DETECTOR,
        embedder: Embedder | None = None,
        unit_embed: CachedEmbed | None = None,
    ) -> None:
        """``unit_embed``: the cache of passage and example embeddings over ``embedder``, to share
        with the pipelines built before and after this one (a new one when omitted)."""
        self.settings = settings
        self.knowledge = knowledge
        self.intents = intents
        self.brand = brand or BrandVoice(business=settings.business_name)
        self.llm = llm
        self.sentiment = sentiment or load_sentiment_model()
        self.detector = detector
        self.thresholds = Thresholds.from_settings(settings)
        # another instance of the knowledge base's model may be given (e.g. single-threaded)
        self.embedder: Embedder = embedder or (
            knowledge.embedder if knowledge is not None else get_embedder(settings.embedding_backend)
        )
        if knowledge is not None and self.embedder.name != knowledge.embedder.name:
            raise ValueError(f"embedder {self.embedder.name!r} differs from the knowledge base's "
                             f"{knowledge.embedder.name!r}")
        builtin = builtin_names()
        # passages' sentences and intents' examples, embedded once for the answerability check
        self._unit_embed = unit_embed or CachedEmbed(self.embedder.embed)
        # the first letters of every word of the intents' examples (a word the models were shown)
        self._example_stems = frozenset(word[:STEM_LETTERS] for i in intents.spec.intents for text in i.all_examples()
                                        for word in fold(text).split()) if intents else frozenset()
        # the accents a customer leaves out, from the examples' spellings per language ("delai" -> "délai")
        self._accents = Accents(_examples_by_language(intents.spec.intents) if intents else {},
                                whole_word=self.embedder.whole_word)
        self._intent_examples = IntentExamples(
            {i.name: i.all_examples() for i in intents.spec.intents if i.name not in builtin} if intents else {},
            self._unit_embed)

    def warm_up(self, kb: str = "default") -> None:
        """Load what the components load lazily (language models, embedding graph) so the first
        customer does not wait for it: one short message per supported language, LLM off. Embed
        the intents' examples and knowledge base ``kb``'s passages (up to
        :data:`PREFILL_MAX_TEXTS` texts) for the answerability check."""
        self._intent_examples.prepare()
        # every passage gives at least two texts (a sentence and its title): a larger base is not read
        if self.knowledge is not None and 0 < 2 * self.knowledge.chunk_count(kb) <= PREFILL_MAX_TEXTS:
            texts = [text for hit in self.knowledge.passages(kb) for text in passage_texts(hit)]
            if len(texts) <= PREFILL_MAX_TEXTS:
                self._unit_embed(texts)
        samples = ("hello, where is my order?", "bonjour, où est ma commande ?", "hola, ¿dónde está mi pedido?",
                   "hallo, wo ist meine Bestellung?", "ciao, dov'è il mio ordine?", "olá, onde está o meu pedido?")
        self.analyze_batch([Inbound(text=s) for s in samples], kb=kb, use_llm=False)

    def analyze(self, text: str, *, contact_language: str | None = None, history: Sequence[Turn] = (),
                kb: str = "default", opted_out: bool = False, use_llm: bool = True) -> Analysis:
        """Analyse one message and decide what to do; see the module docstring.

        Args:
            text: the inbound message.
            contact_language: the contact's known language, the prior for 1-3-word messages.
            history: earlier turns of the conversation, oldest first (repeat detection, LLM context).
            kb: the knowledge base to answer from.
            opted_out: whether the contact is opted out (START-like keywords then opt back in).
            use_llm: allow the LLM path when one is configured.
        """
        item = Inbound(text=text, contact_language=contact_language, history=tuple(history), opted_out=opted_out)
        return self.analyze_batch([item], kb=kb, use_llm=use_llm)[0]

    def analyze_batch(self, items: Sequence[Inbound], *, kb: str = "default", use_llm: bool = False) -> list[Analysis]:
        """Analyse many messages stage by stage (one embedding call for the whole batch).

        Each text (and each history turn) is analysed up to ``MAX_INBOUND_CHARS``: the channels
        cap what they store, and the pipeline holds the same line whoever calls it.
        """
        if not items:
            return []
        items = [_within_cap(item) for item in items]
        clock = _Clock()
        keywords = [match_keyword(i.text, prior=i.contact_language) for i in items]
        clock.lap("keywords")
        priors = [thread_language(i, detector=self.detector) for i in items]
        languages = [None if kw is not None else message_language(self._accents.one_language(i.text), prior,
                                                                   detector=self.detector,
                                                                   business=self.brand.business)
                     for i, kw, prior in zip(items, keywords, priors, strict=True)]
        clock.lap("language")
        # STOP/HELP need no model; START needs one when the contact is subscribed ("yes" answers a question)
        modelled = [n for n, (i, kw) in enumerate(zip(items, keywords, strict=True))
                    if i.text.strip() and (kw is None or (kw.kind == "opt_in" and not i.opted_out))]
        for n in modelled:
            if languages[n] is None:
                languages[n] = message_language(self._accents.one_language(items[n].text), priors[n],
                                                detector=self.detector,
                                                business=self.brand.business)
        clock.lap("language")

        texts: list[str] = []
        # per message: its row (what the models read), its questions' rows, the earlier answered
        # messages' rows, and the row of its own words (repeat detection)
        layout: dict[int, tuple[int, list[int], list[int], int]] = {}
        questions_text: dict[int, list[str]] = {}
        # per message, per question: the words a later question asking only a detail asks (None for the others), and
        # their rows
        part_asked: dict[int, list[str | None]] = {}
        detail_part_rows: dict[tuple[int, int], int] = {}
        asked: dict[int, str] = {}
        # a follow-up asking only how long or how much: the row of the earlier question it asks that of
        detail_rows: dict[int, int] = {}
        for n in modelled:
            item = items[n]
            language = languages[n]
            # SMS shorthand spelt out in the message's language ("vs etes ouverts" -> "vous etes ouverts")
            code = language.language if language is not None else "en"
            # and the accents left out put back ("quel est le delai de livraison" got the shipping prices)
            words = self._accents.restore(expand_shorthand(model_text(item.text), code), code)
            # the earlier question is read as written out too: "c combien la livraison ?" then "et en express ?"
            # got the delivery times, the models reading "c combien la livraison ? et en express ?"
            spelt = tuple(replace(turn, text=self._accents.restore(expand_shorthand(turn.text, code), code))
                          if turn.role == "customer" else turn for turn in item.history)
            follow_up = resolve_follow_up(words, spelt)
            if follow_up is not None:
                asked[n] = words
            query = follow_up or words
            split = [query] if follow_up is not None else split_questions(query)
            # a later question asking only how long or how much is read with the one before it, its words the asked
            details: list[str | None] = [None] if follow_up is not None else detail_asked(split)
            parts = [f"{split[i - 1]} {detail}" if detail is not None else part
                     for i, (part, detail) in enumerate(zip(carry_places(split), details, strict=True))]
            # retrieved and checked with the countries of the cities they name ("... a Madrid? (España)")
            parts = [with_city_countries(part, language.language if language is not None else "en",
                                         self.settings.default_region) for part in parts]
            questions_text[n] = parts
            part_asked[n] = details
            earlier = answered_customer_turns(item.history)
            row = len(texts)
            texts.append(query)
            part_rows = [row] if parts == [query] else list(range(len(texts), len(texts) + len(parts)))
            if parts != [query]:
                texts += parts
            own_row = row
            if follow_up is not None:
                # the follow-up carries the earlier question: repeats are judged on its own words
                own_row = len(texts)
                texts.append(words)
            for i, detail in enumerate(details):
                if detail is not None:
                    detail_part_rows[(n, i)] = len(texts)
                    texts.append(detail)
            earlier_question = detail_question(words, follow_up)
            if earlier_question is not None:
                detail_rows[n] = len(texts)
                texts.append(earlier_question)
            earlier_rows = list(range(len(texts), len(texts) + len(earlier)))
            texts += earlier
            layout[n] = (row, part_rows, earlier_rows, own_row)
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dim), dtype=np.float32)
        clock.lap("embed")
        message_rows = [layout[n][0] for n in modelled]
        message_texts = [texts[layout[n][0]] for n in modelled]

        sentiments: dict[int, SentimentResult] = {}
        if modelled:
            sentiment_backend = self.sentiment.embedder
            sent_vectors = self._vectors(sentiment_backend, lambda: get_embedder(sentiment_backend), message_texts,
                                         vectors[message_rows])
            for n, result in zip(modelled, analyze_sentiment_batch(message_texts, sent_vectors, model=self.sentiment),
                                 strict=True):
                sentiments[n] = result
        clock.lap("sentiment")

        intents: dict[int, IntentPrediction] = {}
        if modelled and self.intents is not None:
            intent_model = self.intents
            intent_vectors = self._vectors(intent_model.backend, lambda: intent_model.embedder, message_texts,
                                           vectors[message_rows])
            for n, prediction in zip(modelled, self.intents.predict_embeddings(intent_vectors), strict=True):
                intents[n] = prediction
            if detail_rows:
                # the detail's words dilute the earlier question's intent: it is that question's when surer
                rows = list(detail_rows.values())
                earlier_vectors = self._vectors(intent_model.backend, lambda: intent_model.embedder,
                                                [texts[r] for r in rows], vectors[rows])
                for n, prediction in zip(detail_rows, self.intents.predict_embeddings(earlier_vectors), strict=True):
                    if prediction.intent is not None and prediction.intent == intents[n].intent and \
                            prediction.confidence > intents[n].confidence:
                        intents[n] = prediction
        clock.lap("intent")

        questions: dict[int, tuple[Question, ...]] = {}
        searchable = self.knowledge is not None and self.knowledge.exists(kb)
        for n in modelled if searchable else ():
            language = languages[n]
            lang = language.language if language is not None else None
            _, part_rows, _, own_row = layout[n]
            # the intent's examples only guide a message that asks one thing (a question asking only how long or how
            # much of the one before it asks about the same thing: "Comment je retourne un article et jusqu'à quand ?")
            one_thing = len(part_rows) - sum(detail is not None for detail in part_asked[n]) == 1
            examples = self._examples(intents.get(n)) if one_thing else None
            found: list[Question] = []
            for i, (q, r) in enumerate(zip(questions_text[n], part_rows, strict=True)):
                own_words = asked.get(n) or part_asked[n][i]
                own_vector = vectors[own_row] if n in asked else (
                    vectors[detail_part_rows[(n, i)]] if (n, i) in detail_part_rows else None)
                hits = self._retrieve(q, vectors[r], kb, lang)
                if examples is not None and self.knowledge is not None:
                    hits += intent_passages(self.knowledge, q, vectors[r], hits, kb=kb, examples=examples,
                                            embed=self._unit_embed)
                candidates = rank(q, vectors[r], hits, language=lang or "en",
                                  embed=self._unit_embed, known_name=self._known_names(kb), asked=own_words,
                                  rare_word=self._rare_words(kb, hits[0].language if hits else lang),
                                  asked_vector=own_vector, intent_examples=examples,
                                  home=self.settings.default_region,
                                  intent_sure=examples is not None and _sure(intents.get(n)))
                found.append(Question(text=q, hits=tuple(c.hit for c in candidates), candidates=tuple(candidates),
                                      asked=own_words))
            questions[n] = tuple(found)
        clock.lap("retrieval")

        share = 1.0 / len(items)
        batch_ms = {stage: ms * share for stage, ms in clock.ms.items()}

        def decide(n: int) -> Analysis:
            item, own = items[n], _Clock()
            repeats = 0
            if n in layout:
                _, _, earlier_rows, own_row = layout[n]
                repeats = count_repeats(vectors[own_row], vectors[earlier_rows])
            asked_questions = questions.get(n) or tuple(Question(q, ()) for q in questions_text.get(n, ()))
            analysis = self._decide(item, keywords[n], languages[n], sentiments.get(n), intents.get(n),
                                    asked_questions, repeats, use_llm, own)
            timings = {stage: batch_ms[stage] + own.ms[stage] for stage in STAGES}
            timings["total"] = sum(timings.values())
            return replace(analysis, decision=replace(analysis.decision, timings_ms=timings))

        if use_llm and self.llm is not None and len(items) > 1:
            # LLM answers wait on the network: a batch's calls overlap (a batch holds its threads' locks)
            with ThreadPoolExecutor(max_workers=min(LLM_CONCURRENCY, len(items)),
                                    thread_name_prefix="relais-llm") as pool:
                return list(pool.map(decide, range(len(items))))
        return [decide(n) for n in range(len(items))]

    # stages

    def _vectors(self, backend: str, embedder: Callable[[], Embedder], texts: list[str],
                 shared: np.ndarray) -> np.ndarray:
        """``shared`` when ``backend`` is the pipeline's embedder, else the texts embedded by ``embedder()``."""
        if backend == self.embedder.name:
            return shared
        return embedder().embed(texts)

    def _retrieve(self, text: str, vector: np.ndarray, kb: str, language: str | None) -> list[Hit]:
        assert self.knowledge is not None
        return retrieve(self.knowledge, text, vector, kb=kb, language=language, k=retrieval_depth(text),
                        home=self.settings.default_region)

    def _known_names(self, kb: str) -> Callable[[str], bool]:
        """Whether knowledge base ``kb`` mentions a name anywhere (keyword search)."""
        knowledge = self.knowledge
        assert knowledge is not None
        # a keyword search ranks on words alone: a vector given saves an encoder call per name looked up
        blank = np.zeros(knowledge.embedder.dim, dtype=np.float32)
        return kb_mentions(lambda name: knowledge.search(name, kb=kb, k=3, mode="bm25", query_vector=blank))

    def _rare_words(self, kb: str, language: str | None) -> Callable[[str], bool]:
        """Whether one passage only of knowledge base ``kb`` in ``language`` states a word (keyword search) that no
        intent example holds (compared on its first letters): the models were never shown it, so its passage is
        the keyword's to find ("paraffine"); "lampes" is in one French passage, but the intents know lamps ("Quelle
        est la garantie sur les lampes ?" got the bulbs)."""
        knowledge = self.knowledge
        assert knowledge is not None
        blank = np.zeros(knowledge.embedder.dim, dtype=np.float32)
        once = kb_states_once(lambda word: knowledge.search(word, kb=kb, k=3, mode="bm25", language=language,
                                                            query_vector=blank))
        return lambda word: word[:STEM_LETTERS] not in self._example_stems and once(word)

    def _examples(self, prediction: IntentPrediction | None) -> np.ndarray | None:
        """The examples' embeddings of a confidently classified deployment intent, else None."""
        if prediction is None or prediction.intent is None or \
                prediction.confidence < self.thresholds.intent_min_confidence:
            return None
        return self._intent_examples.get(prediction.intent)

    def _knowledge_confidence(self, prediction: IntentPrediction | None, language: str,
                              questions: Sequence[Question]) -> float:
        """The combined confidence of the intents ``prediction`` leads with, up to the first one not
        answered from the knowledge base (a template, an escalation, an intent the policy acts on):
        a message torn between two topics the knowledge base answers ("How much is delivery to
        Austria?") is still answerable. Only counted when every question names a place or payment
        method that the passage answerability chose states ("Posso pagare alla consegna?", torn
        between instalments and payment methods, would get "Yes, ... instalments with Alma"), or, for
        a method, the list of accepted methods it is not among ("Do you take bank transfers?"), or whose
        title names the topic the question is about ("¿Quién paga el envío de la devolución?", refund_status
        0.32, return_policy 0.23, shipping_cost 0.20: the return policy). Out of
        scope, the intents are its in-scope alternatives: "Quels sont vos délais pour la Suisse ?" is
        out of scope at 0.63, delivery_time 0.37, international_shipping 0.10 (the generic out-of-scope
        pool's travel questions name countries), and "Livrez-vous à l'étranger ?" covers Switzerland."""
        if prediction is None or self.intents is None or not questions:
            return 0.0
        for question in questions:
            chosen = choose(question.candidates)
            if chosen is None or (chosen.support != "covered" and not chosen.unlisted) or not (
                    any(e.kind in ("country", "payment") for e in entities(question.text, language))
                    or _titled(chosen, question)):
                return 0.0
        total = 0.0
        for alternative in prediction.alternatives:
            definition = self.intents.spec.get(alternative.name)
            if alternative.name in POLICY_INTENTS or definition is None or definition.escalate \
                    or definition.reply_for(language) is not None:
                break
            total += alternative.confidence
        return total

    def _escalating_confidence(self, prediction: IntentPrediction | None) -> float:
        """The combined confidence of the alternatives that go to a person: intents marked ``escalate``,
        ``human_agent`` and ``abuse`` (the policy's grievance rule)."""
        if prediction is None or self.intents is None:
            return 0.0
        total = 0.0
        for alternative in prediction.alternatives:
            definition = self.intents.spec.get(alternative.name)
            if alternative.name in (HUMAN_INTENT, ABUSE_INTENT) or (definition is not None and definition.escalate):
                total += alternative.confidence
        return total

    def _template(self, intent: str | None, language: str, text: str) -> str | None:
        """The reply template of ``intent`` in ``language``; None when ``text`` names a place or a payment
        method, which no template speaks of ("¿Aceptáis Bizum?" was read as a greeting, 0.93, and got
        "Hola, le saluda Maison Lumière", where the knowledge base says which methods are accepted), or
        is small talk for a question (``agent.smalltalk.asks_something``): "jusqu'à quand ?" was a goodbye
        (0.73) and got "Au revoir…"; the knowledge base answers it, or a person. A business intent's template
        ("Do you sell gift cards?" → the gift cards' reply) answers questions: that is what it is for."""
        if intent is None or countries(text, cities=True) or payment_methods(text):
            return None
        if intent in SMALL_TALK_INTENTS and asks_something(text):
            return None
        return self._reply_of(intent, language)

    def _reply_of(self, intent: str, language: str) -> str | None:
        """The reply template of ``intent`` in ``language``, with the business's name; None without one."""
        definition = self.intents.spec.get(intent) if self.intents is not None else None
        reply = definition.reply_for(language) if definition is not None else None
        return reply.replace("{business}", self.brand.business) if reply else None

    def _acknowledged(self, language: str, history: Sequence[Turn]) -> str | None:
        """The reply to an acknowledgement ("ok", "👍") after the bot's answer: the thanks template, unless
        the bot's last message was small talk already (a template reply: "ok" after "You're welcome" ends
        the exchange)."""
        last = next((turn.text for turn in reversed(history) if turn.role == "bot"), None)
        templates = {fold(text.replace("{business}", self.brand.business))
                     for intent in (self.intents.spec.intents if self.intents is not None else ())
                     for text in ((intent.reply.values() if isinstance(intent.reply, dict) else [intent.reply])
                                  if intent.reply else [])}
        if last is not None and fold(last) in templates:
            return None
        return self._reply_of(THANKS_INTENT, language)

    def _decide(self, item: Inbound, keyword: KeywordMatch | None, language: LanguageResult | None,
                sentiment: SentimentResult | None, intent: IntentPrediction | None,
                questions: tuple[Question, ...], repeats: int, use_llm: bool, clock: _Clock) -> Analysis:
        lang = _keyword_language(keyword, item.contact_language) if keyword is not None else (
            language.language if language is not None else (item.contact_language or "en"))
        injection = check_injection(item.text)
        talk = bot_question(item.text, self.brand.business) if keyword is None else None
        if talk is not None:
            # "are you a bot?" gets an honest answer in the words' own language, never an abuse label
            clock.lap("policy")
            decision = Decision(action="reply", confidence=1.0, reason_code="small_talk",
                                reason="the customer asks whether they are talking to a bot", reply=talk.reply,
                                path="template", language=talk.language,
                                sentiment=sentiment.score if sentiment is not None else 0.0,
                                intent=intent.intent if intent is not None else None)
            return Analysis(text=item.text, decision=decision, language=language, sentiment=sentiment, intent=intent,
                            questions=questions, injection=injection, repeats=repeats)
        unreadable = keyword is None and unintelligible(item.text)
        # an acknowledgement acknowledges something said before it in the thread, an answer or the customer's own
        # request a person now has ("Merci ! En fait c'est bon." after an escalation was a greeting): alone, "ok" is
        # left to the models
        acknowledges = keyword is None and not unreadable and acknowledgement(item.text) is not None and \
            bool(item.history)
        if unreadable:
            template: str | None = rephrase_request(lang)
        elif acknowledges:
            template = self._acknowledged(lang, item.history)
        else:
            template = self._template(intent.intent if intent is not None else None, lang, item.text)
        last_bot = next((turn.text for turn in reversed(item.history) if turn.role == "bot"), None)
        signals = Signals(
            text=item.text, keyword=keyword, opted_out=item.opted_out, intent=intent,
            intent_model=self.intents is not None and not self.intents.builtin_only,
            has_template=template is not None, sentiment=sentiment,
            best_score=max((q.best_score for q in questions), default=0.0), repeats=repeats,
            injection=injection.detected, knowledge_confidence=self._knowledge_confidence(intent, lang, questions),
            place_stated=bool(questions) and all((c := choose(q.candidates)) is not None and c.states_place
                                                 for q in questions),
            intent_backed=bool(questions) and all((c := choose(q.candidates)) is not None and c.backed
                                                  for q in questions),
            specific_stated=bool(questions) and all((c := choose(q.candidates)) is not None and c.specific
                                                    for q in questions),
            cues=cues(item.text), escalating_confidence=self._escalating_confidence(intent),
            unintelligible=unreadable, rephrase_asked=last_bot is not None and asked_to_rephrase(last_bot),
            acknowledgement=acknowledges,
        )
        verdict = decide(signals, self.thresholds)
        clock.lap("policy")
        reply, path, answer, fallback = self._respond(verdict, item, keyword, lang, template, questions,
                                                      injection, use_llm)
        if verdict.respond == "knowledge" and answer is None:
            verdict = Verdict("escalate", "low_retrieval_score", "no passage could answer the message",
                              verdict.confidence, "none")
        elif verdict.respond == "knowledge" and repeats == 0 and _says_again(reply, item.history, questions, item.text):
            # "Order 4512" after "Where's my order???" got the tracking answer a second time: what the customer
            # adds, the knowledge base has already answered all it can (a question asked again is answered again)
            verdict = Verdict("escalate", "low_retrieval_score", "the answer would repeat the bot's last reply",
                              verdict.confidence, "none")
            reply, path, answer = None, "none", None
        clock.lap("responder")
        decision = Decision(
            action=verdict.action,
            confidence=max(0.0, min(1.0, verdict.confidence)),
            reason_code=verdict.reason_code,
            reason=verdict.reason,
            reply=reply,
            sources=answer.sources if answer is not None else (),
            path=path,
            language=lang,
            sentiment=sentiment.score if sentiment is not None else 0.0,
            intent=intent.intent if intent is not None else None,
        )
        return Analysis(text=item.text, decision=decision, keyword=keyword, language=language, sentiment=sentiment,
                        intent=intent, questions=questions, injection=injection, repeats=repeats, llm_fallback=fallback)

    def _respond(self, verdict: Verdict, item: Inbound, keyword: KeywordMatch | None, lang: str,
                 template: str | None, questions: tuple[Question, ...], injection: InjectionCheck,
                 use_llm: bool) -> tuple[str | None, Path, Answer | None, str | None]:
        """``(reply text, path, knowledge answer, LLM fallback reason)`` for the verdict."""
        texts = compliance_texts(lang)
        if verdict.respond == "keyword":
            # a natural-language opt-out (the intent) gets the same confirmation as STOP, an unsure one a question
            kind: ReplyKind = keyword.kind if keyword is not None else (
                "confirm_opt_out" if verdict.action == "confirm_opt_out" else "opt_out")
            if kind == "opt_in" and not item.opted_out:
                kind = "subscribed"
            path: Path = "keyword" if keyword is not None else "template"
            return texts.for_kind(kind, self.brand.business), path, None, None
        if verdict.respond == "template":
            return template, "template", None, None
        if verdict.respond != "knowledge":
            return None, "none", None, None
        fallback: str | None = None
        if self.llm is not None and use_llm:
            if injection.detected:
                fallback = "injection"
            else:
                answer, fallback = answer_llm(self.llm, text=item.text, questions=questions, history=item.history,
                                              language=lang, brand=self.brand,
                                              min_score=self.thresholds.retrieval_min_score)
                if answer is not None:
                    return answer.text, "llm", answer, None
        offline = answer_offline(questions, language=lang, said=[t.text for t in item.history if t.role == "bot"])
        if offline is None:
            return None, "none", None, fallback
        return offline.text, "offline", offline, fallback
