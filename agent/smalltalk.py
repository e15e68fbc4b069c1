"""Courtesy around a request, and questions about the bot itself.

* :func:`model_text` is what the models read: a leading greeting or thanks is dropped when a
  request follows ("Bonjour, je voudrais parler à quelqu'un, ma lampe ne s'allume plus" is a
  request for a person, not a greeting), and a message typed in capitals is lower-cased (the
  embedding model reads "AGENT" as a greeting, "agent" as a request for a person).
* :func:`bot_question` recognises "are you a bot?" in the six languages ("Tu es un robot ?",
  "¿eres un robot?", "bist du ein Bot?"): the customer gets an honest answer in their language
  saying how to reach a person, never an abuse label.

Both are small phrase tables over folded text (no accents, lower case), so they are predictable
and cheap; what they do not cover goes to the intent model as before.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Greetings and thanks that may open a message, folded.
_COURTESY = re.compile(
    r"^\s*(?:(?:hello|hi|hey|good (?:morning|afternoon|evening)|thanks?(?: you)?(?: (?:so|very) much| a lot)?|thx|"
    r"bonjour|bonsoir|salut|coucou|merci(?: beaucoup| bien)?|"
    r"hola|buenos dias|buenas(?: tardes| noches)?|muchas gracias|gracias|"
    r"hallo|guten (?:tag|morgen|abend)|moin|servus|vielen dank|danke(?: schon)?|"
    r"ciao|buongiorno|buonasera|salve|grazie(?: mille)?|"
    r"ola|oi|bom dia|boa (?:tarde|noite)|muito obrigad[oa]|obrigad[oa])\b"
    # "merci de ne plus m'écrire" is "please stop", "thanks for your help" one phrase: kept whole
    r"(?!\s+(?:de|d'|d’|du|des|for|por|per|pelo|pela|fur|für|pour)\b)"
    r"(?:\s+(?:there|all|everyone|team|madame|monsieur|sir|madam|senor|senora|herr|frau|signora|signore|"
    r"a todos|zusammen|a tutti|pessoal)\b)?"
    r"\s*[,.!;:-]*\s*)+",
    re.IGNORECASE,
)

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
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(kept.split())


def strip_courtesy(text: str) -> str:
    """``text`` without its opening greetings/thanks when at least two words follow them; else ``text``."""
    match = _COURTESY.match(_fold_keep_layout(text))
    if match is None or match.end() == 0:
        return text
    rest = text[match.end():].strip()
    return rest if len(re.findall(r"\w+", rest)) >= 2 else text


def _fold_keep_layout(text: str) -> str:
    """Accents dropped character by character, so positions still match ``text``."""
    return "".join(unicodedata.normalize("NFKD", ch)[0] if ch.strip() else ch for ch in text)


def model_text(text: str) -> str:
    """What the intent, sentiment and retrieval models read for ``text`` (see the module docstring)."""
    rest = strip_courtesy(text)
    letters = [ch for ch in rest if ch.isalpha()]
    return rest.lower() if len(letters) > 1 and all(ch.isupper() for ch in letters) else rest


def bot_question(text: str, business: str) -> BotQuestion | None:
    """The honest answer when the whole message (greetings aside) asks whether the customer talks to a bot."""
    folded = _fold(strip_courtesy(text))
    for language, patterns in _COMPILED.items():
        if any(p.match(folded) for p in patterns):
            return BotQuestion(language=language, reply=BOT_ANSWER[language].format(business=business))
    return None
