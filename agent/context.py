"""Conversation context for the pipeline: recent turns, repeated questions, several questions at once.

* :class:`Turn` is one earlier message of the thread, oldest first, as the pipeline sees it.
* :func:`count_repeats` says how many times the customer already asked (about) the same thing and
  got a bot answer: the policy escalates when that reaches ``settings.repeat_failure_limit``.
* :func:`split_questions` cuts "Where is my order? And can I pay by PayPal?" into its questions so
  each is retrieved and answered on its own; :func:`carry_places` keeps a place named by one of them
  on the next ("Do you ship to Brussels? How much is it?": the price asked is Brussels').
* :func:`resolve_follow_up` turns an elliptical follow-up ("and for express?", "et pour la
  Belgique ?"), or a longer one carrying on with the earlier question's words ("and who pays the
  return shipping?" after "How do I return an item?"), into a query carrying the earlier
  question's topic ("How much is shipping? and for express?"), so the models see what it is about;
  one naming another topic ("and returns?") is a new question on that topic; :func:`detail_question` is
  the earlier question a follow-up asking only how long or how much is about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from agent.entities import (
    asks_duration,
    asks_if_free,
    asks_lifetime,
    asks_price,
    fold,
    named_products,
    payment_methods,
    place_words,
    product_words,
    subject_topics,
    topic_names,
    topics,
    without_topic_words,
)
from agent.smalltalk import asks_something

Role = Literal["customer", "bot", "agent", "system"]

#: Cosine similarity (multilingual USE) above which two customer messages ask the same thing.
#: Paraphrases of one question score 0.75-0.95; different questions on one topic 0.4-0.7.
REPEAT_SIMILARITY = 0.78

#: A question shorter than this many characters is merged with its neighbour ("ok? and returns?").
MIN_QUESTION_CHARS = 12

#: At most this many questions of one message are answered separately.
MAX_QUESTIONS = 3

_SENTENCE_END = re.compile(r"(?<=[?!.;])\s+|\n+")

#: A follow-up has at most this many words: "and for express?" is one, "and can I pay with
#: PayPal?" (a question of its own) is not.
MAX_FOLLOW_UP_WORDS = 5

#: A longer message opening like a follow-up continues the earlier exchange when it repeats one of
#: its words ("How do I return an item?" ... "and who pays the return shipping?"), up to this many
#: words; "and can I pay with PayPal?" after a shipping question shares none and stands alone.
MAX_CONTINUATION_WORDS = 12

#: Words are compared on this many first letters, so "retour" meets "retourner" and "return" "returns".
_STEM = 5
# Question words and courtesies of five letters or more in the six languages: two questions sharing
# "where" or "please" are not on one topic.
_FUNCTION_WORDS = frozenset({
    "where", "which", "there", "their", "about", "would", "could", "should", "please", "hello", "thanks", "thank",
    "combien", "comment", "quand", "quelle", "quelles", "votre", "notre", "merci", "bonjour",
    "cuando", "cuanto", "cuanta", "cuantos", "donde", "puedo", "pueden", "tienen", "gracias",
    "welche", "welcher", "warum", "wieviel", "konnen", "danke", "bitte", "hallo",
    "quanto", "quanta", "quando", "perche", "posso", "grazie",
    "quais", "quantos", "quantas", "obrigado", "obrigada", "podem",
    # words of carrying on that name nothing: "et sinon, en point relais ?", "and what about the other one?"
    "other", "again", "instead", "sinon", "alors", "encore", "autre", "autres", "otros", "otras", "altro",
    "altri", "altra", "outro", "outros", "outra", "andere", "anderen", "anderes",
    # ... nor "some day": "Verfallen die irgendwann?" after the gift cards named a subject of its own (abuse 0.51)
    "irgendwann", "someday", "eventually",
    # having, and "until": "¿cuánto tiempo tengo?", "jusqu'à quand ?" after a return question ask its period
    # (read alone, the delivery times and the goodbye template)
    "tengo", "tienes", "tiene", "tenemos", "tenho", "temos", "tenha", "haben", "habet", "abbiamo", "avete",
    "jusqu", "hasta", "until", "still", "ainda", "todavia", "ancora",
    # pronouns standing for what was just talked of: "et elles durent combien de temps ?" after the candles'
    # materials named nothing of its own (read alone, the delivery times or a person)
    "elles", "ellos", "ellas", "these", "those", "quelli", "esses", "essas",
    # doing, and being possible: "und bis wann muss ich das machen?", "et jusqu'à quand c'est possible ?" after a return
    # question ask its period (read as subjects of their own, the return steps again)
    "machen", "faire", "hacer", "hacerlo", "hacerla", "farlo", "farla", "fazer", "possible", "posible", "possibile",
    "possivel", "moglich",
})

# Words (their first five letters) of asking how long something takes or what it costs, in the six
# languages: "¿y cuánto tiempo tardaría en llegar?" names nothing of its own.
_DETAIL_STEMS = frozenset({
    "usual", "norma", "about", "rough", "appro", "arriv", "costs",
    "temps", "durer", "coute", "combi",
    "tiemp", "tarda", "llega", "cuest", "costa", "durar",
    # lasting, and staying valid: "quanto tempo durano?", "elles durent combien ?", "Wie lange halten sie?", "elles
    # sont valables combien de temps ?", "¿cuánto tiempo son válidas?"
    "duran", "duren", "duram", "halte", "valid", "valab", "gulti",
    # expiring: "do they expire?", "¿caducan?", "scadono?", "verfallen sie?" after the gift cards
    "expir", "caduc", "scado", "scade", "verfa", "ablau",
    "lange", "dauer", "brauc", "ungef", "koste", "ankom",
    "tempo", "metti", "mette", "vuole", "entro",
    "chega", "demor", "custa", "levar",
    # the amount something starts from: "et à partir de quel montant ?", "¿y a partir de qué importe?"
    "parti", "monta", "impor", "betra", "welch", "valor", "minim",
    # whether it is free: "c'est payant ?", "c'est gratuit ?", "è gratuito?", "ist das umsonst?"
    "payan", "gratu", "grati", "offer", "umson", "pagam",
})

# Openings of an elliptical follow-up in the six languages, over lower-case accent-free text.
_FOLLOW_UP = re.compile(
    r"^(and|what about|how about|same for|also|"
    r"et|et pour|et si|et en|et au|et a|pareil pour|meme chose pour|aussi|"
    r"y|y para|y en|y a|y si|tambien|"
    r"und|und fur|und nach|und in|was ist mit|wie ist es mit|auch|"
    r"e|e per|e in|e a|anche|"
    r"e para|e em|e no|e na|tambem)( |$)"
)


# Openings of a follow-up asking whether the earlier answer holds in a case it states ("what if I've already lit it?",
# "et si je l'ai déjà allumée ?", "e se já a acendi?", "und wenn ich sie schon angezündet habe?"), over folded text.
# A bare "if" opens a question of its own too ("Si je commande aujourd'hui, je reçois quand ?"): a connector or "what"
# comes first.
_CONDITION = re.compile(
    r"^(what if|and if|but if|and what if|et si|mais si|et alors si|y si|pero si|y que pasa si|und wenn|aber wenn|"
    r"was ist wenn|was wenn|und was ist wenn|e se|ma se|mas se|e si)( |$)")


# An object pronoun standing for what was just talked of, over folded text: "can I use them in the shop?" after the gift
# cards got Click & Collect, read alone. English after a verb (not "is it", a subject); French before a verb after a
# subject or a modal ("je peux les utiliser"); Spanish and Italian joined to an infinitive ("usarlas", "usarle") or
# before a modal ("¿las puedo usar?"); Portuguese joined by a hyphen ("usá-los"); German after a modal and its subject
# ("kann ich sie…", lower case in the text: "Sie" is the polite "you").
_OBJECT_PRONOUN = re.compile(
    r"\b(?!(?:is|does|do|did|will|would|can|could|should|was|are|were|has|have|had)\b)[a-z]+ (it|them)( |$)|"
    r"\b(je|tu|on|nous|vous|peux|peut|pouvez|peuvent|puis|veux|voudrais|dois|doit) (les|la|le|l) [a-z]{3,}|"
    r"\b[a-z]{2,}(ar|er|ir)(las|los|la|lo|les|le|li|ne)( |$)|"
    r"\b(las|los|lo|le|li) (puedo|puede|podemos|pueden|posso|puo|possiamo|potete|possono)( |$)|"
    r"\b[a-z]{2,}-(los|las|lo|la|o|a|os|as)( |$)|"
    r"\b(kann|konnen|darf|durfen|soll|muss) (ich|man|wir) (?P<german>sie|ihn)( |$)")


def _by_object_pronoun(text: str) -> bool:
    """Whether the question ``text`` is about what was just talked of, named by an object pronoun
    (:data:`_OBJECT_PRONOUN`: "can I use them in the shop?", "je peux les utiliser en boutique ?", "¿puedo usarlas en
    la tienda?", "kann ich sie im Laden einlösen?"), naming no product, place or payment method of its own."""
    if not text.strip().endswith("?") or product_words(text) or place_words(text) or payment_methods(text):
        return False
    folded = f" {_fold(text.replace('-', ' HYPHEN '))} ".replace(" hyphen ", "-")
    match = _OBJECT_PRONOUN.search(folded)
    if match is None:
        return False
    # German "Sie" written with a capital is the polite "you" ("Kann ich Sie anrufen?"), "sie" them
    german = match.group("german")
    return german is None or f" {german} " in f" {text.strip().replace('?', ' ')} "


def asks_condition(text: str) -> bool:
    """Whether ``text`` is one clause stating a case ("what if I've already lit it?", "et si…", "y si…", "und wenn…",
    "e se…"): after an answer, it asks whether that answer holds then, and the sentence stating the case answers it
    ("candles that have been lit cannot be returned"). Not when a clause of its own follows the case, nor when it asks
    how long or how much: "et si je commande aujourd'hui, je reçois quand ?" asks a question of its own."""
    folded = _fold(text)
    return _CONDITION.match(folded) is not None and "," not in text and \
        not asks_duration(text) and not asks_price(text)


# Openings by a third-person subject pronoun in the languages that write one, over folded text: "elles sont valables
# combien de temps ?" after the gift cards, "elles sont en quelle cire ?" after "Vous faites des bougies ?" went to a
# person. Not English "they" (also the business: "do they ship to Spain?") nor "il y a…" (whether there is something).
_PRONOUN = re.compile(r"^((il|ils|elle|elles)(?! y a( |$))|ellos|ellas|essi|esse|eles|elas)( |$)")
# ... unless the question names its subject itself, by a determiner and a noun: "il est où mon colis ?", "elle coûte
# combien la livraison ?" (read with a price question, the prices again)
_OWN_NOUN = re.compile(
    r" (mon|ma|mes|ton|ta|tes|son|sa|ses|votre|vos|notre|nos|le|la|les|l|du|des|mi|mis|tu|tus|su|sus|el|los|las|del|"
    r"vuestr\w*|nuestr\w*|il|lo|gli|mio|mia|miei|mie|vostr\w*|meu|minha|meus|minhas|seu|sua|seus|suas|voss\w*|"
    r"noss\w*|o|os|as|do|da|dos|das) \w{4,}")


# Openings of a short question about what the earlier one asked, by a pronoun ("is it free?", "c'est
# gratuit ?", "ist das kostenlos?", "isso é grátis?"), over lower-case accent-free text. Only read so
# when the message is a question: "c'est urgent" is not about the earlier question. Languages that
# drop the pronoun ("¿es gratis?", "è gratis?") are left out: read with a return question, "¿es
# gratis?" was an opt-out at 0.45.
_BACK_REFERENCE = re.compile(
    r"^(is it|is that|does it|does that|will it|can it|how much is it|how long does it|"
    # the plural: "how long are they valid?" after the gift cards was read alone (delivery_time 0.33: a person)
    r"are they|do they|will they|can they|how long are they|how long do they|how much are they|"
    r"c est|ca|est ce gratuit|est ce payant|"
    r"eso|esto|"
    r"ist das|ist es|kostet das|dauert das|geht das|"
    r"isso)( |$)"
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message: who wrote it and what it said."""

    role: Role
    text: str


def split_questions(text: str) -> list[str]:
    """The separate questions of ``text`` (at most ``MAX_QUESTIONS``), or ``[text]`` when it asks one.

    A part counts as a question when it ends with "?"; statements around questions stay attached
    to the following question ("I ordered a lamp. When will it arrive?" is one question).
    """
    questions = _cut_questions(text)
    # a later question asking only how long or how much, or about "it", is about the one before it: "Posso
    # devolver um artigo? Quanto tempo tenho?" asks the return period (alone, it got the delivery times)
    for n in range(len(questions) - 1, 0, -1):
        if is_follow_up(questions[n]) and not _opens_like_follow_up(questions[n], _fold(questions[n])):
            questions[n - 1 : n + 1] = [f"{questions[n - 1]} {questions[n]}"]
    if len(questions) <= 1:
        return [text.strip()]
    if len(questions) > MAX_QUESTIONS:
        questions = [*questions[: MAX_QUESTIONS - 1], " ".join(questions[MAX_QUESTIONS - 1 :])]
    return questions


def _cut_questions(text: str) -> list[str]:
    """The questions of ``text`` as written, each with the statements before it (:func:`split_questions` before it
    reads a later question asking only how long or how much with the one before)."""
    parts = [piece for p in _SENTENCE_END.split(text) if p.strip() for piece in _split_joined(p.strip())]
    questions: list[str] = []
    pending = ""
    for part in parts:
        pending = f"{pending} {part}".strip()
        if part.endswith("?") and len(pending) >= MIN_QUESTION_CHARS:
            questions.append(pending)
            pending = ""
    if pending:
        if questions and len(pending) < MIN_QUESTION_CHARS:
            questions[-1] = f"{questions[-1]} {pending}"
        elif questions:
            questions.append(pending)
    return questions


#: A second question joined to the first by "and" and a question word ("How much is shipping and how long does it
#: take?"): the question is cut before the "and" (:func:`split_questions`).
_JOINED = re.compile(
    r"\s*,?\s+(?=(?:and|et|y|e|und)\s+(?:how|when|where|what|can|could|do|does|is|are|combien|quand|comment|"
    r"est-ce|cu[aá]nto|cu[aá]nta|cu[aá]ndo|c[oó]mo|d[oó]nde|puedo|quanto|quanta|quando|come|dove|posso|wie|wann|wo|"
    r"was|kann|onde|"
    # "until when": "Wie gebe ich etwas zurück und bis wann geht das?" was one question, answered by the period alone
    r"until when|jusqu['’ ]?(?:à|a) quand|hasta cu[aá]ndo|bis wann|fino a quando|at[eé] quando)\b)", re.IGNORECASE)


def _split_joined(part: str) -> list[str]:
    """``part`` cut before an "and" opening a second question, each side of three words or more, the first given a
    question mark: one question asking a price and a period ("How much is shipping and how long does it take?") was
    checked against passages stating both, and none does (a person answered); "Kann ich mit PayPal zahlen und wie
    lange dauert die Lieferung?" got the delivery times only."""
    if not part.endswith("?"):
        return [part]
    for match in _JOINED.finditer(part):
        first, second = part[: match.start()].rstrip(" ,"), part[match.end():]
        if len(first.split()) >= 3 and len(second.split()) >= 3:
            return [f"{first}?", second]
    return [part]


def carry_places(questions: Sequence[str]) -> list[str]:
    """``questions`` of one message, each naming no place given the places the previous one named, and a follow-up
    naming no topic the topics the previous one is about.

    Cut from "¿Hacen envíos a Bruselas? ¿Cuánto cuesta?", the second question alone is a price with
    no place, which the home country's passage answers; it is about Brussels, so it is retrieved and
    checked as "¿Cuánto cuesta? (bruselas)". A question naming a place of its own keeps it. Cut from "Combien coûte
    la livraison ? Et ça prend combien de temps ?", the second alone got the candles' burn time: it is read as "Et ça
    prend combien de temps ? (shipping)", the topic's name as a follow-up across messages carries it.
    """
    carried: list[str] = []
    named: list[str] = []
    about: list[str] = []
    for question in questions:
        own = place_words(question)
        if own:
            named = own
        # a question about paying asks nothing of a place: "¿Y puedo pagar con tarjeta?" after "¿cuánto tarda el envío
        # a Madrid?", read with "(madrid)", got the Alma instalments, where the list of methods answers
        about_it = subject_topics(question)
        paying = bool(payment_methods(question)) or (bool(about_it) and about_it <= {"payment", "instalments"})
        # ... a question naming a payment method is about paying: "und kann ich mit PayPal zahlen?" after "Was kostet
        # der Versand nach Italien" named no topic's word, was read as "(shipping)" and got no answer
        words = [*(named if not own and not paying else []),
                 *(about if about and not topics(question) and not payment_methods(question) and (
                     is_follow_up(question) or _opens_like_follow_up(question, _fold(question))) else [])]
        carried.append(f"{question} ({', '.join(words)})" if words else question)
        subjects = subject_topics(question)
        if subjects:
            names = topic_names()
            about = [names[topic] for topic in sorted(subjects)]
    return carried


def detail_asked(questions: Sequence[str]) -> list[str | None]:
    """Per question of one message, its own words when it is a later one opening with "and" and asking only how long
    or how much ("Comment je retourne un article ? et jusqu'à quand ?"), else None: it asks that of the question
    before it and is read with it, as the same follow-up in the next message is (alone with the topic's name, "et
    jusqu'à quand ? (returns)" got when an item out of stock is back, "de retour")."""
    return [question if n and _asks_only_detail(question) and _opens_like_follow_up(question, _fold(question))
            else None for n, question in enumerate(questions)]


def answered_customer_turns(history: Sequence[Turn]) -> list[str]:
    """Texts of the customer's earlier messages that the bot answered afterwards, oldest first."""
    answered: list[str] = []
    waiting: list[str] = []
    for turn in history:
        if turn.role == "customer":
            waiting.append(turn.text)
        elif turn.role == "bot" and waiting:
            answered.extend(waiting)
            waiting = []
        elif turn.role == "agent":
            # a person took part: earlier bot failures are no longer the bot's to count
            answered, waiting = [], []
    return answered


def count_repeats(vector: np.ndarray, earlier: np.ndarray, threshold: float = REPEAT_SIMILARITY) -> int:
    """How many rows of ``earlier`` (unit vectors) are at least ``threshold``-similar to ``vector``."""
    if earlier.size == 0:
        return 0
    return int((np.asarray(earlier) @ np.asarray(vector) >= threshold).sum())


def recent_turns(history: Sequence[Turn], limit: int = 6) -> list[Turn]:
    """The last ``limit`` turns (the LLM prompt's context)."""
    return list(history[-limit:]) if limit > 0 else []


def _fold(text: str) -> str:
    return fold(text).strip()


def _opens_like_follow_up(text: str, folded: str) -> bool:
    """Whether ``text`` opens like a follow-up. Folding accents makes Italian "è" and Portuguese "é"
    ("is") the "e" ("and") of a follow-up: "è urgente, rispondete" after a shipping question was
    read as "and urgent?" and answered with the shipping terms again."""
    first = text.strip().casefold().split(maxsplit=1)
    if first and first[0].rstrip(",.!?;:") in ("è", "é"):
        return False
    return _FOLLOW_UP.match(folded) is not None


def is_follow_up(text: str) -> bool:
    """Whether ``text`` is an elliptical follow-up: a short message opening like "and for...", "et pour...",
    or a short question about what was just asked ("is it free?" after "How do I return something?",
    which read alone got the shipping prices; "how much?" after "Do you ship to Germany?") naming no topic."""
    folded = _fold(text)
    if not folded or len(folded.split()) > MAX_FOLLOW_UP_WORDS:
        return False
    if _opens_like_follow_up(text, folded):
        return True
    # a pronoun question naming a topic asks its own ("c'est combien la livraison ?"; read as a follow-up, it
    # was no earlier question for "et en express ?" either)
    # ... but a subject pronoun stands for the earlier subject: "elles sont en quelle cire ?" asks the candles' wax
    # ... and one asking only how much or how long opening with its question word needs no mark: "how much" after
    # "hi do you ship to ireland" went to a person
    return (text.strip().endswith("?") and (
        (_BACK_REFERENCE.match(folded) is not None and not topics(text)) or _by_pronoun(text, folded)
        or _asks_only_detail(text))) or (asks_something(text) and _asks_only_detail(text))


def _by_pronoun(text: str, folded: str) -> bool:
    """Whether ``text`` opens with a subject pronoun (:data:`_PRONOUN`) standing for what was just talked of and asks
    a detail of it (how long, how much, whether it is free) or about a topic ("elles sont en quelle cire ?"): it names
    no subject of its own (a noun after a determiner, :data:`_OWN_NOUN`), nor a place or payment method ("ellos
    aceptan PayPal?" after a shipping question asks about paying). Another pronoun question is read alone: "elle
    arrive quand ?" after the express price got the prices again, "¿ellas caducan?" after the gift cards the next
    passage (the instalments), the gift cards' answer not being repeated."""
    return _PRONOUN.match(folded) is not None and _OWN_NOUN.search(f" {folded} ") is None and \
        not place_words(text) and not payment_methods(text) and \
        (asks_duration(text) or asks_price(text) or asks_if_free(text) or bool(topics(text)))


def _asks_only_detail(text: str) -> bool:
    """Whether ``text`` asks only how long or how much, naming nothing of its own ("how much?",
    "Quanto custa?", "Was kostet das?", "¿Cuánto tarda?"): right after "Do you ship to Germany?" it
    asks about Germany, and read alone it got mainland France's price."""
    return (asks_duration(text) or asks_price(text)) and not topics(text) and not _own_subject(text, set())


def _refers_back(text: str, folded: str) -> bool:
    """Whether ``text`` is a question opening with a pronoun for what was just talked of ("elles sont valables
    combien de temps ?", six words: a back-reference longer than a follow-up carries on when :func:`_continues`
    says so)."""
    return text.strip().endswith("?") and (_BACK_REFERENCE.match(folded) is not None or _by_pronoun(text, folded))


def _stems(text: str) -> set[str]:
    """The first letters of the words of ``text`` long enough to say what it is about."""
    return {word[:_STEM] for word in _fold(text).split() if len(word) >= _STEM and word not in _FUNCTION_WORDS}


def _continues(text: str, question: str, answer: str) -> bool:
    """Whether a longer ``text`` opening like a follow-up carries on from ``question`` and the bot's
    ``answer`` to it: it repeats one of their words, or it asks how long or how much without naming a
    topic of its own ("and how long does it take?" after "Do you ship to Germany?": six words, none
    of them the question's, and read alone it got mainland France's delivery times)."""
    folded = _fold(text)
    conditional = asks_condition(text)
    pronoun = _by_object_pronoun(text)
    if not folded or len(folded.split()) > MAX_CONTINUATION_WORDS or not (
            _opens_like_follow_up(text, folded) or _refers_back(text, folded) or conditional or pronoun):
        return False
    if pronoun and asks_something(question):
        # what the earlier question asked about, named by a pronoun: "can I use them in the shop?" after "Do you sell
        # gift cards?". Not after a statement: "can I cancel it?" after "I ordered a lamp yesterday" asks its own
        return True
    if conditional and text.strip().endswith("?") and not topics(text) - topics(question) and \
            not place_words(text) and not payment_methods(text):
        # a case stated of what was just answered, naming no topic, place or means of its own: "what if I've already
        # lit it?" after "Can I return a candle?" (read alone: a greeting, a person), "e se já a acendi?"
        return True
    if _refers_back(text, folded) and (asks_duration(text) or asks_price(text)) and \
            not topics(text) - topics(question) and not product_words(text) and not place_words(text) and \
            not payment_methods(text):
        # a pronoun for what was just talked of, asking how long or how much: its other words name nothing of their own
        # ("do they expire at some point?" after the gift cards read "point" as its subject, and went to a person)
        return True
    # naming a topic the earlier question does not name, it carries on only by a word of that question ("and can I
    # cancel my order now please?" after "Where is my order?"): the reply's words do not count. "Und was kostet der
    # Versand nach Deutschland?" after "Kann ich etwas zurückgeben?" shared "Deutsch" with the reply's line naming its
    # language, was read with the return question and went to a person
    earlier = _stems(question) if _switches_topic(text, question) else _stems(question) | _stems(answer)
    if (asks_duration(text) or asks_price(text)) and not topics(text) - topics(question) and not _own_subject(
            text, earlier):
        return True
    # a word of asking how long or how much is no word of the earlier exchange's subject: "und wie lange halten die
    # Kerzen?" after "Wie lange dauert der Versand nach Österreich?" shared "lange" and got the terms for abroad
    return bool((_stems(text) - _DETAIL_STEMS) & earlier)


def subject_words(text: str) -> list[str]:
    """The folded words by which ``text`` may name a subject: five letters or more, no question word or
    courtesy, no word of asking how long or how much (:data:`_DETAIL_STEMS`), none naming a topic
    ("candle" in "and how long does a candle burn?", "relais" in "et en point relais ?")."""
    # nor a word of a phrase naming a topic: "faites" in "elles sont faites de quoi ?" (materials) is no subject the
    # knowledge base should mention
    named = topics(text)
    folded = without_topic_words(text, named) if named else _fold(text)
    return [word for word in folded.split() if len(word) >= _STEM and word not in _FUNCTION_WORDS
            and word[:_STEM] not in _DETAIL_STEMS and not topics(word)]


def _own_subject(text: str, earlier: set[str]) -> bool:
    """Whether ``text`` names something of its own: a :func:`subject_words` word that is not one of the
    ``earlier`` exchange's ("and how long does a candle burn?" after a shipping question asks about candles)."""
    return any(word[:_STEM] not in earlier for word in subject_words(text))


def _asks_own_lifetime(text: str, question: str) -> bool:
    """Whether ``text`` asks how long a product it names lasts (:func:`agent.entities.asks_lifetime`) and ``question``
    names no such product: the question is that product's, not a detail of the earlier one. "e quanto durano le
    candele?" after "posso usarle in negozio?" (the gift cards) was read with it and got Click & Collect's "ready in 2
    hours"; "e quanto durano?" after the candles' materials, or the gift cards, still asks theirs."""
    own = named_products(text)
    return bool(own) and asks_lifetime(text) and not own & named_products(question)


def _switches_topic(text: str, question: str) -> bool:
    """Whether ``text`` names a topic (``agent.entities.topics``) and ``question`` none of its topics, or asks about a
    payment method after a question on another way of paying (:func:`_switches_method`)."""
    own = topics(text)
    return (bool(own) and not own & topics(question)) or _switches_method(text, question)


def _switches_method(text: str, question: str) -> bool:
    """Whether ``text`` names a payment method ``question`` does not, ``question`` being about another topic than
    paying by a method: "and with Visa?" after "Can I pay in instalments?" asks about Visa (read with it, it got the
    instalments again); after "Can I pay with PayPal?" it stays a follow-up."""
    return bool(payment_methods(text) - payment_methods(question)) and bool(subject_topics(question)) and \
        "payment" not in subject_topics(question)


def _new_topic_query(text: str, question: str) -> str:
    """``text`` with its topics' names and, when it names no place or product, ``question``'s places and products:
    "elles sont en quelle cire ?" after "Vous faites des bougies ?" asks the candles' wax."""
    own = topics(text) | ({"payment"} if _switches_method(text, question) else set())
    names = [topic_names()[topic] for topic in sorted(own)]
    places = [] if place_words(text) else place_words(question)
    kinds = [] if product_words(text) else product_words(question)
    return f"{text.strip()} ({', '.join([*names, *places, *kinds])})"


def detail_question(text: str, query: str | None) -> str | None:
    """The earlier question a follow-up ``text`` asking only how long or how much ("¿hasta cuándo?", "et j'ai
    combien de temps ?") asks it of, read from the follow-up's ``query`` (:func:`resolve_follow_up`); None for
    any other message. Its words name nothing but the detail: what it is about is that question's, and so is
    its intent (read with "¿hasta cuándo?", "¿Cómo devuelvo una manta?" fell from return_policy 0.90 to 0.55)."""
    asked = text.strip()
    if query is None or not _asks_only_detail(asked) or not query.endswith(asked) or query == asked:
        return None
    return query[: -len(asked)].strip() or None


def resolve_follow_up(text: str, history: Sequence[Turn]) -> str | None:
    """The query for a follow-up ``text``: the customer's last question that was not itself a
    follow-up, then ``text``; None when ``text`` is no follow-up or there is no earlier question.

    A follow-up is a short elliptical message ("and for express?"), or a longer one opening the
    same way that repeats a word of that question or of the bot's answer to it ("and who pays the
    return shipping?" after "How do I return an item?").

    A short one naming another topic than that question ("and returns?", "¿y las devoluciones?"
    after "How much is shipping?") asks about that topic, not about the earlier one's: its query is
    its own words, the topic's name and the places the earlier question named ("¿y las
    devoluciones? (returns, alemania)" after "¿Hacen envíos a Alemania?").
    """
    short = is_follow_up(text)
    answers: list[str] = []
    for turn in reversed(history):
        if turn.role == "bot":
            answers.append(turn.text)
        # a follow-up naming a topic asked a new question ("und gibt es Gutscheine?" after a payment question): the next
        # one is about it ("verfallen die?" was read with the payment question and went to a person)
        if turn.role == "customer" and turn.text.strip() and (not is_follow_up(turn.text) or topics(turn.text)):
            if _asks_own_lifetime(text, turn.text):
                return None
            # ... unless it names what was just asked about by an object pronoun: "e posso usarla in negozio?" after
            # "avete la carta regalo?" asks about the gift card in the shop (read as a shop question, Click & Collect)
            if short and _switches_topic(text, turn.text) and not (
                    _by_object_pronoun(text) and asks_something(turn.text)):
                return _new_topic_query(text, turn.text)
            if short or _continues(text, turn.text, " ".join(answers)):
                # a case is one of what the earlier message asked first, the questions after it asking its details:
                # "und wenn ich die Kerze schon angezündet habe?" read with all of "Wie schicke ich etwas zurück und
                # wie lange habe ich Zeit?" scored 0.17 with "…candles that have been lit cannot be returned" (a
                # person), 0.26 read with its first question
                earlier = (_cut_questions(turn.text) or [turn.text])[0] if asks_condition(text) else turn.text
                return f"{earlier.strip()} {text.strip()}"
            return None
    return None
