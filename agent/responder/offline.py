"""The offline responder: for each question, the best sentences of the one passage that answers it
(``agent.answerability`` chose it), in one language, within the SMS budget.

* **Grounded**: a question gets nothing when no candidate passage is relevant enough or when it
  names something the knowledge base never mentions; a passage that does not cover a country or
  payment method the question names is sent without its opening "Yes" (it states what is known); a
  list of accepted payment methods given for a method it lacks opens by saying that method is not
  among them.
* **One passage per question, its best sentences**: never a join of unrelated passages; a request that
  asks nothing in particular ("I'd like to return a lamp") also gets the first sentence of a second
  passage the sure intent backs as much (``agent.answerability.companion``: the return policy with the steps).
* **One language per SMS**: passages come in the customer's language when the knowledge base has
  it; otherwise (retrieval fell back to another language) the reply opens with a short line in the
  customer's language naming the language that follows ("No tenemos esta información en español;
  le respondemos en inglés:").

Several questions are answered in order. The combined reply must fit ``MAX_SEGMENTS`` SMS segments
(counted by ``channels.encoding``): sentences are added round-robin (first sentence of every answer,
then the second...) while they fit, so each question gets something before any answer gets long. A
reply that only fits because of an accented character forcing UCS-2 (70 characters a segment
instead of 160) is folded to GSM-7 (``ê`` -> ``e``) when that makes it fit more.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from babel import Locale

from agent.answerability import AFFIRMATION, STEM_LETTERS, Candidate, choose, companion, sentences
from agent.context import subject_words
from agent.entities import asks_duration, asks_if_free, asks_price, fold, states_duration, states_price, topics
from agent.responder import Answer, Question, source_of
from channels.encoding import SMART_REPLACEMENTS, analyze, is_gsm7
from core.text import strip_accents

MAX_SEGMENTS = 2



def gsm_fold(text: str) -> str:
    """``text`` with characters outside GSM-7 replaced by their closest GSM-7 form when one exists
    (typographic quotes and dashes, then accented letters to their base letter). A text in GSM-7 already
    (most replies) is returned as it is; the others are folded a distinct character at a time."""
    if is_gsm7(text):
        return text
    return "".join([_gsm_char(ch) for ch in text])


@functools.lru_cache(maxsize=1024)
def _gsm_char(ch: str) -> str:
    """The GSM-7 form of one character (itself when there is none)."""
    if is_gsm7(ch):
        return ch
    replaced = SMART_REPLACEMENTS.get(ch)
    if replaced is not None:
        return replaced
    base = strip_accents(ch)
    return base if base and is_gsm7(base) else ch


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    return analyze(text).segments <= max_segments


def _truncate_words(text: str, max_segments: int) -> str:
    words = text.split()
    while words:
        candidate = " ".join(words).rstrip(",;:") + "..."
        if fits(candidate, max_segments):
            return candidate
        words.pop()
    return ""


def fit_parts(parts: Sequence[str], max_segments: int = MAX_SEGMENTS) -> str:
    """Join ``parts`` (one answer per question) into one text of at most ``max_segments`` segments.

    Sentences are taken round-robin across parts while the whole fits; a first sentence too long
    for the budget is cut at a word boundary and ends with "...".
    """
    split = [sentences(p) or [p] for p in parts if p.strip()]
    if not split:
        return ""
    whole = " ".join(" ".join(s) for s in split)
    for full in (whole, gsm_fold(whole)):
        if fits(full, max_segments):
            return full
    chosen: list[list[str]] = [[] for _ in split]
    best = ""
    for depth in range(max(len(s) for s in split)):
        for index, part in enumerate(split):
            if depth >= len(part):
                continue
            chosen[index].append(part[depth])
            candidate = " ".join(" ".join(c) for c in chosen if c)
            for option in (candidate, gsm_fold(candidate)):
                if fits(option, max_segments):
                    best = option
                    break
            else:
                chosen[index].pop()
    if best:
        return best
    return _truncate_words(gsm_fold(split[0][0]), max_segments)


#: The line that opens a reply written in another language than the customer's; ``{language}`` is
#: the reply's language named in the customer's language (Babel).
LANGUAGE_NOTICE: dict[str, str] = {
    "en": "We don't have this information in English; here it is in {language}:",
    "fr": "Nous n'avons pas cette information en français ; voici la réponse en {language} :",
    "es": "No tenemos esta información en español; le respondemos en {language}:",
    "de": "Diese Information haben wir nicht auf Deutsch; wir antworten auf {language}:",
    "it": "Non abbiamo questa informazione in italiano; rispondiamo in {language}:",
    "pt": "Não temos esta informação em português; respondemos em {language}:",
}


#: The sentence opening a list of accepted payment methods given for a method it lacks, in the reply's
#: language; ``{method}`` is the method as the customer wrote it.
UNLISTED_METHOD: dict[str, str] = {
    "en": "{method}: not among the payment methods we accept.",
    "fr": "{method} : ne figure pas parmi les moyens de paiement acceptés.",
    "es": "{method}: no figura entre los medios de pago que aceptamos.",
    "de": "{method}: nicht unter den Zahlungsarten, die wir akzeptieren.",
    "it": "{method}: non è tra i metodi di pagamento che accettiamo.",
    "pt": "{method}: não está entre os meios de pagamento que aceitamos.",
}


#: ... and for a method it holds: the direct answer to "Can I pay with PayPal?".
LISTED_METHOD: dict[str, str] = {
    "en": "{method}: yes, among the payment methods we accept.",
    "fr": "{method} : oui, parmi les moyens de paiement acceptés.",
    "es": "{method}: sí, entre los medios de pago que aceptamos.",
    "de": "{method}: ja, unter den Zahlungsarten, die wir akzeptieren.",
    "it": "{method}: sì, tra i metodi di pagamento che accettiamo.",
    "pt": "{method}: sim, entre os meios de pagamento que aceitamos.",
}


def unlisted_note(methods: Sequence[str], language: str, templates: dict[str, str] = UNLISTED_METHOD) -> str | None:
    """The sentence saying the ``methods`` asked about are not among those a list accepts (None for none); with
    ``templates=LISTED_METHOD``, that they are."""
    if not methods:
        return None
    template = templates.get(language, templates["en"])
    note = template.format(method=" / ".join(dict.fromkeys(methods)))
    return note[:1].upper() + note[1:]


def language_notice(customer: str, reply: str) -> str | None:
    """The opening line for a reply in ``reply`` language to a customer writing in ``customer``
    (None when they are the same or the customer's language has no notice)."""
    template = LANGUAGE_NOTICE.get(customer)
    if customer == reply or template is None:
        return None
    name = Locale.parse(customer).languages.get(reply, reply)
    return template.format(language=name)


def answer_offline(questions: Sequence[Question], *, language: str, max_segments: int = MAX_SEGMENTS,
                   said: Sequence[str] = ()) -> Answer | None:
    """An extractive answer to every question a passage answers (``agent.answerability.choose``),
    in one language; None when no question has one.

    ``said``: the bot's earlier replies in the conversation. A follow-up that would get one of them
    again word for word ("and who pays the return shipping?" after "How do I return an item?"
    lands on the return label again) is answered from the next candidate ``choose`` accepts: the
    customer asks for what that reply did not say. A question asked again gets the same answer
    (repeats are counted, and escalated, by the policy).
    """
    # a request asking nothing in particular may take a second passage's first sentence (``companion``)
    answer = _compose([c for q in questions for c in (choose(q.candidates), companion(q.text, q.candidates))],
                      language, max_segments, said)
    sent = {fold(text) for text in said}
    if answer is None or fold(answer.text) not in sent or len(questions) != 1:
        return answer
    if _states_what_is_asked(questions[0].text, answer.text) or _names_its_subject(questions[0].asked, answer.text):
        return answer  # "how much?" after a reply giving the price: the price again, not the next passage's facts
    candidates = questions[0].candidates
    if candidates and candidates[0].asks_place and candidates[0].support in ("covered", "contradicted"):
        # the places it states answer a follow-up naming another one: "what about japan?" after "do u ship to canada"
        # (the places served, Japan not among them) got Click & Collect, the next candidate
        return answer
    if candidates and candidates[0].specific:
        # it states what the question names ("400 g", "paraffin"): "e quelle da 180?" after the burn times of the 400 g
        # candles got the lamps' bulbs, the next candidate
        return answer
    if not candidates or not candidates[0].follow_up:
        return answer
    for start in range(1, len(candidates)):
        other = _compose([choose(candidates[start:])], language, max_segments)
        if other is not None and fold(other.text) not in sent:
            return other
    return answer


def _states_what_is_asked(question: str, reply: str) -> bool:
    """Whether ``reply`` states the price or the duration ``question`` asks: "Do you ship to Switzerland?
    how much?" answered again with "…from 12 EUR." is answered; the next candidate was the Alma
    instalments ("From 100 EUR you can pay in 3 or 4…")."""
    return ((asks_price(question) or asks_if_free(question)) and states_price(reply)) or (
        asks_duration(question) and states_duration(reply))


def _names_its_subject(asked: str | None, reply: str) -> bool:
    """Whether ``reply`` names what the follow-up ``asked`` names (:func:`agent.context.subject_words`):
    "et le dimanche ?" after the shop's hours, which give Sunday's, is answered by them again; the next
    candidate was the delivery times."""
    if asked is None:
        return False
    said = {word[:STEM_LETTERS] for word in fold(reply).split()}
    if any(word[:STEM_LETTERS] in said for word in subject_words(asked)):
        return True
    # ... or the topics it names: "can I use them in the shop?" after the gift cards, which are valid "in our Paris
    # shop", got Click & Collect, the next candidate
    named = topics(asked)
    return bool(named) and named <= topics(reply)


def _compose(choices: Sequence[Candidate | None], language: str, max_segments: int,
             said: Sequence[str] = ()) -> Answer | None:
    """The reply made of the chosen candidates (one per question, None for none), in one language; ``said``: the
    bot's earlier replies (a list of methods already sent is not sent again after its yes)."""
    chosen = [c for c in choices if c is not None]
    if not chosen:
        return None
    # one language per SMS: the customer's when a passage has it, else the first answer's
    reply_language = language if any(c.hit.language == language for c in chosen) else chosen[0].hit.language
    chosen = [c for c in chosen if c.hit.language == reply_language]
    parts = _distinct_parts([_with_method_note(c, reply_language, said) for c in chosen])
    notice = language_notice(language, reply_language)
    text = fit_parts([notice, *parts] if notice else parts, max_segments)
    if not text or (notice and text == fit_parts([notice], max_segments)):
        return None
    return Answer(text=text, sources=tuple(source_of(c.hit) for c in chosen), path="offline")


def _with_method_note(candidate: Candidate, language: str, said: Sequence[str]) -> list[str]:
    """``candidate``'s reply sentences, opened by the note on the payment methods asked about: a list of accepted
    methods given for a method it lacks first says the method is not among them, and for one it holds that it is
    ("PayPal: yes, …"), without the list again when the bot already sent it ("ok and with PayPal?" after the
    payment methods got the whole list a second time)."""
    sentences = candidate.reply_sentences()
    note = unlisted_note(candidate.unlisted, language) or unlisted_note(candidate.listed, language, LISTED_METHOD)
    if note is None:
        return sentences
    if candidate.listed:
        earlier = " ".join(fold(text) for text in said)
        sentences = [s for s in sentences if fold(s) not in earlier]
    return [note, *sentences]


def _distinct_parts(answers: Sequence[Sequence[str]]) -> list[str]:
    """One text per answer (its sentences), without the sentences an earlier answer already states.

    Two questions of one text often land on one passage ("¿Hacen envíos a Bruselas? ¿Cuánto
    cuesta?": both get "We deliver to the EU..."); the customer reads each fact once. A sentence is
    compared folded and without its opening "Yes" (the second copy is often stated without it).
    """
    said = ""
    parts: list[str] = []
    for answer in answers:
        fresh = [s for s in answer if AFFIRMATION.sub("", fold(s).strip()).strip() not in said]
        said += " ".join(fold(s) for s in answer)
        if fresh:
            parts.append(" ".join(fresh))
    return parts
