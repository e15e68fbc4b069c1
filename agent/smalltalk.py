"""Courtesy around a request, and questions about the bot itself.

* :func:`model_text` is what the models read: a leading greeting, thanks or "ok" is dropped when a
  request follows ("Bonjour, je voudrais parler à quelqu'un, ma lampe ne s'allume plus" is a
  request for a person, not a greeting), and so is a leading remark on the language the customer
  does not speak ("Bonjour, I don't speak French, where is my order?" was out of scope, 0.86:
  the remark is answered by replying in their language), and a message typed in capitals is
  lower-cased (the embedding model reads "AGENT" as a greeting, "agent" as a request for a person).
* :func:`acknowledgement` recognises a message that only acknowledges an answer ("ok", "👍", "super",
  "vale", "alles klar"): the intent model read them as greetings (0.89-0.95) and the customer got
  "Hello, this is…" after an answer; the policy answers them as thanks (or not at all).
* :func:`asks_something` says whether a message is a question: a greeting, thanks or goodbye template
  never answers one ("jusqu'à quand ?" was a goodbye at 0.73 and got "Au revoir…").
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
from agent.unintelligible import BATCH_TEXTS

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
# Acknowledgements opening a message, read as thanks are: "ok and with PayPal?" after the payment methods was read
# whole, no follow-up, and got the same list again (not "super" nor "great": "super lamp, do you have more?")
_ACK_OPENERS = r"ok|okay|d['’ ]?accord|vale|alles klar|va bene|ta bom|parfait|perfecto|perfetto|perfeito"
_COURTESY = re.compile(
    rf"^\s*(?:(?:{'|'.join(_COURTESY_WORDS.values())}|{_ACK_OPENERS}|{_LANGUAGE_REMARK})\b"
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


# Thanks or an acknowledgement among the openings: what follows a "thanks," or an "ok," is often a word about the
# answer, not a request ("ok, ça marche").
_THANKS = re.compile(rf"\b(?:thanks?|thank you|thx|merci|gracias|danke|dank|grazie|obrigad[oa]|{_ACK_OPENERS})\b",
                     re.IGNORECASE)

#: Words that must follow an opening thanks for the rest to be read alone, unless it is a question:
#: "gracias, me sirve" ("thanks, that works for me") read as "me sirve" was a request for a person (0.66).
AFTER_THANKS_WORDS = 3


def strip_courtesy(text: str) -> str:
    """``text`` without its opening greetings/thanks when a request follows them; else ``text``.

    A request is at least two words after a greeting, and after thanks or an acknowledgement ("ok", "vale") at
    least ``AFTER_THANKS_WORDS`` words or a question ("merci, ça marche" stays thanks; "merci, et la livraison ?"
    and "ok and with PayPal?" are questions).
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


# Acknowledgements by language, folded; "ok", "super", "top", "cool" are several languages' (their own
# language is then the thread's). Thanks may go with them ("ok merci", "parfait, thanks").
# ... and the words closing a request the customer no longer needs ("Merci ! En fait c'est bon.", "never mind, thanks",
# "hat sich erledigt"), after an answer or an escalation: it was read as a greeting ("Bonjour, ici Maison Lumière…")
_ACK_WORDS: dict[str, str] = {
    "en": r"ok|okay|okey|kk|alright|all right|got it|great|perfect|cool|nice|fine|good|sounds good|understood|"
          r"noted|awesome|brilliant|lovely|excellent|will do|super|top|"
          r"actually|never ?mind|all good|no worries|it s fine|its fine|that s fine|no need|all sorted|sorted|"
          r"figured it out|found it|i found it|no problem|no problem anymore",
    "fr": r"ok|d accord|dac|daccord|ca marche|parfait|top|genial|entendu|compris|nickel|tres bien|bien recu|"
          r"c est note|note|impeccable|cool|super|ca roule|bien|okay|"
          r"en fait|finalement|c est bon|c bon|c est ok|tout est bon|laissez tomber|laisse tomber|pas besoin|"
          r"plus besoin|ca ira|c est regle|j ai trouve|c est resolu|oubliez|oubliez ca",
    "es": r"ok|vale|perfecto|genial|entendido|de acuerdo|muy bien|estupendo|listo|bueno|guay|okey|super|okay|"
          r"en realidad|al final|ya esta|no hace falta|ya no hace falta|da igual|ya lo tengo|ya lo encontre|"
          r"olvidalo|no importa|esta bien|todo bien|todo resuelto",
    "de": r"ok|alles klar|klar|perfekt|prima|gut|verstanden|passt|klasse|toll|in ordnung|super|okay|sehr gut|"
          r"geht klar|top|cool|"
          r"eigentlich|hat sich erledigt|erledigt|schon gut|passt schon|alles gut|nicht mehr notig|nicht notig|"
          r"vergessen sie es|hab es gefunden|habe es gefunden",
    "it": r"ok|va bene|perfetto|ottimo|capito|benissimo|d accordo|bene|super|okay|top|"
          r"in realta|alla fine|lascia stare|lasci stare|non importa|a posto|tutto a posto|tutto ok|non serve|"
          r"non serve piu|ho trovato|risolto",
    "pt": r"ok|ta bom|esta bem|perfeito|otimo|beleza|entendi|combinado|certo|fixe|super|okay|top|"
          r"na verdade|afinal|deixa pra la|deixa para la|ja esta|ja resolvi|nao precisa|tudo certo|esquece|"
          r"ja encontrei|resolvido",
}
_THANKS_WORDS: dict[str, str] = {
    "en": r"thanks?(?: you)?(?: (?:so|very) much| a lot)?|thx|cheers", "fr": r"merci(?: beaucoup| bien)?",
    "es": r"(?:muchas )?gracias", "de": r"(?:vielen )?dank|danke(?: schon)?", "it": r"grazie(?: mille)?",
    "pt": r"(?:muito )?obrigad[oa]",
}
_ACK_ONLY = {lang: re.compile(rf"^(?:(?:{words}|{_THANKS_WORDS[lang]})(?: |$))+$")
             for lang, words in _ACK_WORDS.items()}
_THANKS_ONLY = re.compile(rf"^(?:(?:{'|'.join(_THANKS_WORDS.values())})(?: |$))+$")
# Emoji that acknowledge (thumbs up, OK hand, smiles, hearts, thanks), with skin tones and joiners
_ACK_EMOJI = ("[\U0001F44D\U0001F44C\U0001F64F\u2705\U0001F60A\U0001F642\U0001F600-\U0001F604\U0001F44F\u2764"
              "\u2665\U0001F4AF\U0001F197\u263A\u270C\U0001F91D\U0001F970\U0001F60D\U0001F64C\U0001F499-\U0001F49C"
              "\U0001F9E1\U0001F5A4\U0001F3FB-\U0001F3FF\uFE0F\u200D]")
_ACK_EMOJI_ONLY = re.compile(rf"^(?:{_ACK_EMOJI}|\s|[!.,])+$")
_ACK_EMOJI_ANY = re.compile(_ACK_EMOJI)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A message that only acknowledges: the language its words belong to, None when several share them."""

    language: str | None


@functools.lru_cache(maxsize=BATCH_TEXTS)
def acknowledgement(text: str) -> Acknowledgement | None:
    """The :class:`Acknowledgement` ``text`` is ("ok", "👍", "vale", "ok merci", "super 👌"), else None.

    Its words (emoji aside) must all be acknowledgements or thanks of one language's; a word of one
    language only gives the language ("vale" is Spanish), "ok" or "👍" none. The pipeline asks it of each
    message of a batch twice (its language, then its reply): the batch's texts are remembered, no more."""
    words = _fold(_ACK_EMOJI_ANY.sub(" ", text))
    if not words:
        return Acknowledgement(None) if _ACK_EMOJI_ONLY.match(text) else None
    if _THANKS_ONLY.match(words) and not _ACK_EMOJI_ANY.search(text):
        return None  # thanks alone: the intent model's thanks
    found = [lang for lang, pattern in _ACK_ONLY.items() if pattern.match(words)]
    if not found:
        return None
    return Acknowledgement(found[0] if len(found) == 1 else None)


# Openings of a question in the six languages, over folded text: "jusqu'à quand ?", "¿cuánto tiempo?"
# (short words other languages use otherwise, "ou", "que", "was", "e", are left out: a question mark says it);
# a German question opens with its verb, and SMS drops the mark: "kann ich mit klarna zahlen" asks, as "can i pay
# with klarna" does (the list of methods was then not given to it: it said nothing of Klarna), and so does "puedo
# pagar con klarna", "posso pagare/pagar com klarna"
_QUESTION_OPENING = re.compile(
    r"^ (?:how|what|when|where|why|which|who|can|could|is|are|will|would|may|"
    r"comment|combien|quand|pourquoi|quel|quelle|quels|quelles|qui|est ce|jusqu|"
    r"como|cuanto|cuanta|cuantos|cuantas|cuando|donde|por que|cual|cuales|quien|hasta cuando|"
    r"wie|wieviel|wann|warum|welche|welcher|welches|wer|bis wann|"
    r"(?:kann|konnen|konnt|darf|durfen) (?:ich|man|wir|ihr|sie)|puedo|podemos|podeis|posso|possiamo|potete|podem|"
    r"quanto|quanta|quanti|quante|quando|dove|perche|quale|quali|chi|fino a|"
    r"onde|qual|quais|quem|ate quando) ")
# Small-talk questions a greeting answers: "how are you?", "ça va ?", "¿qué tal?", "wie geht's?"
_WELL_BEING = re.compile(
    r"^ (?:how are (?:you|u)|how s it going|how do you do|ca va|comment (?:ca va|allez vous|vas tu)|"
    r"que tal|como (?:esta|estas|esta usted)|wie geht s|wie geht es (?:ihnen|dir)|come (?:stai|sta)|"
    r"tutto bene|tudo bem|como (?:vai|esta)) ")


def asks_something(text: str) -> bool:
    """Whether ``text`` asks a question (ends with "?", opens with "¿" or a question word) other than a
    greeting ("Bonjour ?", "hello?") or a small-talk one ("ça va ?", "how are you?")."""
    rest = strip_courtesy(text).strip()
    folded = f" {_fold(rest)} "
    if courtesy_language(rest) is not None or _WELL_BEING.match(folded):
        return False
    return rest.rstrip(" !.").endswith("?") or rest.startswith("¿") or _QUESTION_OPENING.match(folded) is not None


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
