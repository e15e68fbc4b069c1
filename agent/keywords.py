"""Compliance keywords (STOP / HELP / START and their translations), checked before any model.

Carrier rules (CTIA in the US, the French "STOP" rule, ...) require that a message consisting of
one of these words is honoured whatever a model thinks, so this is a plain table lookup on the
*whole* message: "Stop.", " arrêt ", "ARRET" match; "don't stop the delivery" does not (a
natural-language opt-out is the intent model's job).

Matching ignores case, accents, punctuation, emoji and extra whitespace. A keyword can belong to
several languages ("STOP", "INFO", "CANCELAR"); the result then names the caller's ``prior``
language when it is one of them, else the first listed.

``YES``/``OUI``/``SÍ``... are opt-in keywords: a caller must only treat them as a re-subscription
when the contact is opted out (otherwise they are ordinary replies to a question).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.text import fold_words

KeywordKind = Literal["opt_out", "help", "opt_in"]
#: What a compliance text answers: a keyword, or a natural-language opt-out the agent is not sure
#: enough of to act on, answered with a question that names the opt-out keyword.
ReplyKind = Literal["opt_out", "help", "opt_in", "confirm_opt_out", "subscribed"]

# Written as people type them; normalised (accents, case, punctuation) when the table is built. STOP, START and HELP
# are in every language: carriers and the console name them whatever the contact's language, and a Spanish contact
# texting STOP or START was answered in English (the first language listing it).
_KEYWORDS: dict[KeywordKind, dict[str, tuple[str, ...]]] = {
    "opt_out": {
        "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
               "OPTOUT", "OPT OUT", "OPT-OUT"),
        "fr": ("STOP", "ARRET", "ARRÊT", "STOP SMS", "DESABONNER", "DÉSABONNER", "SE DÉSABONNER",
               "DÉSABONNEMENT", "DESINSCRIRE", "DÉSINSCRIRE", "DÉSINSCRIPTION", "ANNULER"),
        "es": ("BAJA", "DAR DE BAJA", "DARME DE BAJA", "ALTO", "CANCELAR", "PARAR", "PARA", "DETENER",
               "DESUSCRIBIR", "DESUSCRIBIRME", "ANULAR", "STOP"),
        "de": ("STOPP", "STOP", "ABMELDEN", "ABBESTELLEN", "ABMELDUNG", "AUSTRAGEN", "BEENDEN"),
        "it": ("FERMA", "BASTA", "CANCELLA", "ANNULLA", "STOP", "DISISCRIVI", "DISISCRIVIMI",
               "DISATTIVA"),
        "pt": ("PARE", "PARAR", "SAIR", "CANCELAR", "STOP", "DESCADASTRAR", "DESCADASTRE",
               "REMOVER"),
    },
    "help": {
        "en": ("HELP", "INFO"),
        "fr": ("AIDE", "INFO", "HELP"),
        "es": ("AYUDA", "INFO", "HELP"),
        "de": ("HILFE", "INFO", "HELP"),
        "it": ("AIUTO", "INFO", "HELP"),
        "pt": ("AJUDA", "INFO", "HELP"),
    },
    "opt_in": {
        "en": ("START", "UNSTOP", "YES", "SUBSCRIBE"),
        "fr": ("OUI", "START", "ABONNER", "S'ABONNER", "REPRENDRE"),
        "es": ("SÍ", "SI", "ALTA", "DAR DE ALTA", "SUSCRIBIR", "SUSCRIBIRME", "START"),
        "de": ("JA", "START", "ANMELDEN", "ABONNIEREN"),
        "it": ("SÌ", "SI", "START", "ISCRIVI", "ISCRIVIMI", "ATTIVA"),
        "pt": ("SIM", "INSCREVER", "ASSINAR", "START"),
    },
}


#: Opt-in keywords that are also ordinary answers to a question (normalised).
AFFIRMATIONS = frozenset({"yes", "oui", "si", "ja", "sim"})


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """A whole-message compliance keyword.

    ``keyword`` is the normalised table entry (lower case, no accents, e.g. ``"arret"``);
    ``language`` the language chosen for the reply; ``languages`` every language the keyword
    belongs to.
    """

    kind: KeywordKind
    keyword: str
    language: str
    languages: tuple[str, ...]

    @property
    def is_affirmation(self) -> bool:
        """An opt-in word that is also an everyday "yes": from a subscribed contact it answers a
        question; START, SUBSCRIBE, ALTA... are commands whoever sends them."""
        return self.kind == "opt_in" and self.keyword in AFFIRMATIONS


def _build_table() -> dict[str, tuple[KeywordKind, tuple[str, ...]]]:
    table: dict[str, tuple[KeywordKind, tuple[str, ...]]] = {}
    for kind, by_language in _KEYWORDS.items():
        for language, words in by_language.items():
            for word in words:
                key = fold_words(word)
                known = table.get(key)
                if known is None:
                    table[key] = (kind, (language,))
                elif known[0] != kind:
                    raise ValueError(f"keyword {word!r} is both {known[0]} and {kind}")
                elif language not in known[1]:
                    table[key] = (kind, (*known[1], language))
    return table


_TABLE = _build_table()


def match_keyword(text: str, prior: str | None = None) -> KeywordMatch | None:
    """The compliance keyword that ``text`` consists of, or ``None``.

    Args:
        text: the whole inbound message.
        prior: the contact's known language, used to pick the reply language when the
            keyword is shared by several languages.
    """
    key = fold_words(text)
    entry = _TABLE.get(key)
    if entry is None:
        return None
    kind, languages = entry
    language = prior if prior in languages else languages[0]
    return KeywordMatch(kind=kind, keyword=key, language=language, languages=languages)


def keywords(kind: KeywordKind, language: str) -> tuple[str, ...]:
    """The keywords of ``kind`` in ``language`` as written in the table (for docs and help texts)."""
    return _KEYWORDS[kind].get(language, ())


@dataclass(frozen=True, slots=True)
class ComplianceTexts:
    """Replies to the keywords in one language; ``help`` has a ``{business}`` placeholder.

    ``subscribed`` answers START (or another opt-in command) from a contact who is already
    subscribed: it confirms, it never says goodbye.

    ``confirm_opt_out`` asks a customer whose words may be an opt-out ("stop sending me the wrong
    size") to send the opt-out keyword: a ledger opt-out only follows words the agent is sure of.
    """

    opt_out: str
    help: str
    opt_in: str
    confirm_opt_out: str
    subscribed: str

    def for_kind(self, kind: ReplyKind, business: str) -> str:
        """The reply to a keyword of ``kind`` (or the opt-out question), with the business name filled in."""
        if kind == "opt_out":
            return self.opt_out
        if kind == "help":
            return self.help.format(business=business)
        if kind == "confirm_opt_out":
            return self.confirm_opt_out
        if kind == "subscribed":
            return self.subscribed
        return self.opt_in


# Kept within one SMS segment: 160 GSM-7 characters, or 70 when a character (á, ã, ç...) forces
# UCS-2, leaving room for a business name of about 20 characters in the help text.
_TEXTS: dict[str, ComplianceTexts] = {
    "en": ComplianceTexts(
        opt_out="You are unsubscribed and will receive no more messages. Reply START to resubscribe.",
        help="{business}: reply to chat with us. Msg&data rates may apply. Reply STOP to unsubscribe.",
        opt_in="You are subscribed again. Reply STOP to unsubscribe, HELP for help.",
        confirm_opt_out="Do you want to stop receiving our messages? Reply STOP to stop all messages.",
        subscribed="You are already subscribed. Reply STOP to unsubscribe, HELP for help.",
    ),
    "fr": ComplianceTexts(
        opt_out="Désinscription confirmée : vous ne recevrez plus de messages. Répondez START pour revenir.",
        help="{business} : répondez pour discuter avec nous. Répondez STOP pour vous désinscrire.",
        opt_in="Inscription confirmée. Répondez STOP pour vous désinscrire, AIDE pour de l'aide.",
        confirm_opt_out="Ne plus recevoir nos messages ? Répondez STOP pour tout arrêter.",
        subscribed="Inscription déjà active. Répondez STOP pour vous désinscrire, AIDE pour de l'aide.",
    ),
    "es": ComplianceTexts(
        opt_out="Baja confirmada. No recibirá más mensajes. Responda ALTA para volver.",
        help="{business}: responda para hablar con nosotros. Responda BAJA para darse de baja.",
        opt_in="Alta confirmada. Responda BAJA para darse de baja, AYUDA para ayuda.",
        confirm_opt_out="¿Quiere dejar de recibir nuestros mensajes? Responda BAJA para darse de baja.",
        subscribed="Ya está suscrito. Responda BAJA para la baja, AYUDA para ayuda.",
    ),
    "de": ComplianceTexts(
        opt_out="Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie START zum Anmelden.",
        help="{business}: Antworten Sie, um mit uns zu schreiben. Antworten Sie STOPP zum Abmelden.",
        opt_in="Sie sind wieder angemeldet. Antworten Sie STOPP zum Abmelden, HILFE für Hilfe.",
        confirm_opt_out="Möchten Sie keine Nachrichten mehr erhalten? Antworten Sie STOPP, um alle abzubestellen.",
        subscribed="Sie sind bereits angemeldet. Antworten Sie STOPP zum Abmelden, HILFE für Hilfe.",
    ),
    "it": ComplianceTexts(
        opt_out="Sei stato disiscritto e non riceverai più messaggi. Rispondi START per iscriverti di nuovo.",
        help="{business}: rispondi per scriverci. Rispondi STOP per disiscriverti.",
        opt_in="Sei di nuovo iscritto. Rispondi STOP per disiscriverti, AIUTO per assistenza.",
        confirm_opt_out="Non vuoi più ricevere i nostri messaggi? Rispondi STOP per non riceverne più.",
        subscribed="Sei già iscritto. Rispondi STOP per disiscriverti, AIUTO per assistenza.",
    ),
    "pt": ComplianceTexts(
        opt_out="Inscrição cancelada, sem mais mensagens. Responda SIM para voltar.",
        help="{business}: responda para falar conosco. Responda PARE para sair.",
        opt_in="Inscrição reativada. Responda PARE para sair, AJUDA para ajuda.",
        confirm_opt_out="Não quer mais receber mensagens? Responda PARE para parar todas.",
        subscribed="Já está inscrito. Responda PARE para sair, AJUDA para ajuda.",
    ),
}


def compliance_texts(language: str) -> ComplianceTexts:
    """The replies in ``language``, English when the language is not supported."""
    return _TEXTS.get(language, _TEXTS["en"])
