"""Courtesy around a request, and questions about the bot itself.

* :func:`model_text` is what the models read: a leading greeting or thanks is dropped when a
  request follows ("Bonjour, je voudrais parler à quelqu'un, ma lampe ne s'allume plus" is a
  request for a person, not a greeting), and so is a leading remark on the language the customer
  does not speak ("Bonjour, I don't speak French, where is my order?" was out of scope, 0.86:
  the remark is answered by replying in their language), and a message typed in capitals is
  lower-cased (the embedding model reads "AGENT" as a greeting, "agent" as a request for a person).
* :func:`bot_question` recognises "are you a bot?" in the six languages ("Tu es un robot ?",
  "¿eres un robot?", "bist du ein Bot?"): the customer gets an honest answer in their language
  saying how to reach a person, never an abuse label.

Both are small phrase tables over folded text (no accents, lower case), so they are predictable
and cheap; what they do not cover goes to the intent model as before.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from babel import Locale

from agent.entities import fold

# Greetings and thanks by language, folded: they may open a message, and a message made of them alone
# is in their language ("thx!" is English, "merci" French: the detector reads them as French and Italian).
_COURTESY_WORDS: dict[str, str] = {
    "en": r"hello|hi|hey|good (?:morning|afternoon|evening)|thanks?(?: you)?(?: (?:so|very) much| a lot)?|thx",
    "fr": r"bonjour|bonsoir|salut|coucou|merci(?: beaucoup| bien)?",
    "es": r"hola|buenos dias|buenas(?: tardes| noches)?|muchas gracias|gracias",
    "de": r"hallo|guten (?:tag|morgen|abend)|moin|servus|vielen dank|danke(?: schon)?",
    "it": r"ciao|buongiorno|buonasera|salve|grazie(?: mille)?",
    "pt": r"ola|oi|bom dia|boa (?:tarde|noite)|muito obrigad[oa]|obrigad[oa]",
}


@functools.cache
def _language_names() -> str:
    """The six supported languages' names in those languages, folded, as a pattern."""
    codes = ("en", "fr", "es", "de", "it", "pt")
    names = {fold(Locale.parse(locale).languages[code]).strip() for locale in codes for code in codes}
    return "|".join(sorted(names, key=len, reverse=True))


# "I don't speak French" and the like: a remark the reply's language answers, not a request
_LANGUAGE_REMARK = (rf"(?:sorry|desole|perdon|lo siento|entschuldigung|scusate|scusi|desculpe)?\W*"
                    rf"(?:i (?:don['’]?t|do not|can['’]?t|cannot) (?:speak|read|understand)|"
                    rf"je ne parle pas|je parle pas|no hablo|ich spreche (?:kein|nicht)|non parlo|(?:eu )?nao falo) "
                    rf"(?:{_language_names()})")
_COURTESY = re.compile(
    rf"^\s*(?:(?:{'|'.join(_COURTESY_WORDS.values())}|{_LANGUAGE_REMARK})\b"
    # "merci de ne plus m'écrire" is "please stop", "thanks for your help" one phrase: kept whole
    r"(?!\s+(?:de|d'|d’|du|des|for|por|per|pelo|pela|fur|für|pour)\b)"
    r"(?:\s+(?:there|all|everyone|team|madame|monsieur|sir|madam|senor|senora|herr|frau|signora|signore|"
    r"a todos|zusammen|a tutti|pessoal)\b)?"
    r"\s*[,.!;:-]*\s*)+",
    re.IGNORECASE,
)
_COURTESY_ONLY = {lang: re.compile(rf"^(?:(?:{words}) ?)+$") for lang, words in _COURTESY_WORDS.items()}

_BOT_WORDS = (r"(?:real |vrai |vraie |echte[rn]? |verdadero |vero |verdadeiro )?"
              r"(?:bot|robot|roboter|robo|chatbot|machine|maquina|maschine|macchina|computer|ordinateur|ai|ia|ki|"
              r"human|humain|humaine|humano|humana|mensch|menschen|umano|umana|person|personne|persona|pessoa|"
              r"real person|vraie personne)")
_ARTICLE = r"(?:a |an |un |une |una |um |uma |ein |eine |einem |einer )?"

#: Language -> patterns over the folded message (apostrophes are spaces: "t'es" -> "t es").
_BOT_QUESTIONS: dict[str, tuple[str, ...]] = {
    "en": (rf"(?:are|r) (?:you|u) {_ARTICLE}{_BOT_WORDS}",
           rf"(?:am i|are we) (?:talking|speaking|chatting|texting) (?:to|with) {_ARTICLE}{_BOT_WORDS}",
           rf"is this {_ARTICLE}(?:automated|{_BOT_WORDS})"),
    "fr": (rf"(?:tu es|t es|es tu|vous etes|etes vous|c est) {_ARTICLE}{_BOT_WORDS}",
           rf"je (?:parle|discute|ecris) (?:a|avec) {_ARTICLE}{_BOT_WORDS}"),
    "es": (rf"(?:eres|es usted|sos|usted es) {_ARTICLE}{_BOT_WORDS}",
           rf"(?:hablo|estoy hablando|escribo) con {_ARTICLE}{_BOT_WORDS}"),
    "de": (rf"(?:bist du|sind sie|ist das) {_ARTICLE}{_BOT_WORDS}",
           rf"(?:spreche|schreibe|chatte) ich mit {_ARTICLE}{_BOT_WORDS}"),
    "it": (rf"(?:sei|lei e) {_ARTICLE}{_BOT_WORDS}",
           rf"sto (?:parlando|scrivendo) con {_ARTICLE}{_BOT_WORDS}"),
    "pt": (rf"(?:voce e|tu es|es|e) {_ARTICLE}{_BOT_WORDS}",
           rf"(?:estou|to) (?:a )?(?:falar|falando|conversar|conversando) com {_ARTICLE}{_BOT_WORDS}"),
}
_COMPILED = {lang: tuple(re.compile(rf"^{p}\s*$") for p in patterns) for lang, patterns in _BOT_QUESTIONS.items()}

#: The honest answer, with the business name; "AGENT" is read as a request for a person.
BOT_ANSWER: dict[str, str] = {
    "en": "I'm the automated assistant of {business}. Reply AGENT to talk to a person.",
    "fr": "Je suis l'assistant automatique de {business} ; répondez AGENT pour parler à une personne.",
    "es": "Soy el asistente automático de {business}; responda AGENTE para hablar con una persona.",
    "de": "Ich bin der automatische Assistent von {business}. Antworten Sie AGENT, um mit einem Menschen zu sprechen.",
    "it": "Sono l'assistente automatico di {business}; rispondi OPERATORE per parlare con una persona.",
    "pt": "Sou o assistente automático de {business}; responda AGENTE para falar com uma pessoa.",
}


@dataclass(frozen=True, slots=True)
class BotQuestion:
    """A "are you a bot?" message: the language its phrasing belongs to and the answer to send."""

    language: str
    reply: str


def _fold(text: str) -> str:
    return fold(text).strip()


# Thanks among the openings: what follows a "thanks," is often a word about the answer, not a request.
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|merci|gracias|danke|dank|grazie|obrigad[oa])\b", re.IGNORECASE)

#: Words that must follow an opening thanks for the rest to be read alone, unless it is a question:
#: "gracias, me sirve" ("thanks, that works for me") read as "me sirve" was a request for a person (0.66).
AFTER_THANKS_WORDS = 3


def strip_courtesy(text: str) -> str:
    """``text`` without its opening greetings/thanks when a request follows them; else ``text``.

    A request is at least two words after a greeting, and after thanks at least ``AFTER_THANKS_WORDS``
    words or a question ("merci, ça marche" stays thanks; "merci, et la livraison ?" is a question).
    """
    folded = _fold_keep_layout(text)
    match = _COURTESY.match(folded)
    if match is None or match.end() == 0:
        return text
    rest = text[match.end():].strip()
    words = len(re.findall(r"\w+", rest))
    if _THANKS.search(folded[:match.end()]) and words < AFTER_THANKS_WORDS and not rest.endswith("?"):
        return text
    return rest if words >= 2 else text


def _fold_keep_layout(text: str) -> str:
    """Accents dropped character by character, so positions still match ``text``."""
    return "".join(unicodedata.normalize("NFKD", ch)[0] if ch.strip() else ch for ch in text)


def model_text(text: str) -> str:
    """What the intent, sentiment and retrieval models read for ``text`` (see the module docstring)."""
    rest = strip_courtesy(text)
    letters = [ch for ch in rest if ch.isalpha()]
    return rest.lower() if len(letters) > 1 and all(ch.isupper() for ch in letters) else rest


def courtesy_language(text: str) -> str | None:
    """The language of a message made only of one language's greetings or thanks, else None."""
    folded = _fold(text)
    found = [lang for lang, pattern in _COURTESY_ONLY.items() if folded and pattern.match(folded)]
    return found[0] if len(found) == 1 else None


def bot_question(text: str, business: str) -> BotQuestion | None:
    """The honest answer when the whole message (greetings aside) asks whether the customer talks to a bot."""
    folded = _fold(strip_courtesy(text))
    for language, patterns in _COMPILED.items():
        if any(p.match(folded) for p in patterns):
            return BotQuestion(language=language, reply=BOT_ANSWER[language].format(business=business))
    return None
