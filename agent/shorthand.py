"""SMS shorthand spelt out for the models ("vs etes ouverts le lundi ?" -> "vous etes ouverts le lundi ?").

The intent and retrieval models were trained on written phrasings; a customer's "vs", "pr", "qd" or
"xq" is a word they do not know, enough to push a plain question out of scope. The table
(``agent/resources/shorthand.yaml``) is per language: the message's detected language picks it, so
"vs" is "vous" in French and stays "vs" in English. Only what the models read changes: the stored
message, keyword matching and language detection see the text as received.

A few words the encoder misreads are reworded the same way (:data:`REWORDINGS`): French "rendre" with
an object ("rendre une lampe", "la rendre") is giving it back, which the encoder reads as making or
rendering: "je voudrais rendre une lampe" was product_care 0.48 and got the bulbs, "Combien de temps
j'ai pour rendre une lampe ?" the refund delay; "retourner" is what the intents and passages say. English
"send back" is "return" ("I'd like to send back a vase" was return_policy 0.79, "return a vase" 0.95).
Portuguese weekdays without "-feira" after a preposition ("Abrem à segunda?") are written in full, and
"portes" (shipping costs) as "custos de envio".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

SHORTHAND_FILE = Path(__file__).resolve().parent / "resources" / "shorthand.yaml"

_OBJECT = (r"(?:(?:un|une|le|la|les|mon|ma|mes|ton|ta|tes|son|sa|ses|ce|cet|cette|ces|notre|votre|vos|nos)\s+|l['’])"
           r"(?!argent\b|monnaie\b)")
#: Per language, (pattern, replacement) applied after the shorthand: words the encoder misreads, written
#: as the knowledge base and the intents' examples say them. French "rendre" only with what is given back
#: ("se rendre à la boutique" is going there; "rendre service", "rendre visite" take no determiner; "rendre
#: l'argent" is a refund).
REWORDINGS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    # "send back" is returning: "I'd like to send back a vase" was return_policy 0.79 (0.95 as "return a vase"),
    # under the sureness a passage backed by the intent needs; the object may stand between ("send the lamp back")
    "en": tuple(
        (re.compile(rf"\b{sent}((?!\s+(?:me|us|you|him|her)\b)(?:\s+[\w'’]+){{1,3}}?)?\s+back\b", re.IGNORECASE),
         rf"{returned}\1")
        for sent, returned in (("send", "return"), ("sends", "returns"), ("sending", "returning"), ("sent", "returned"))
    ),
    # a weekday said without "-feira" after a preposition ("Abrem à segunda?", "fecham às quintas?") is one the encoder
    # reads as an ordinal ("second", "fourth"): "Abrem à segunda?" was out of scope (0.73), "Abrem à segunda-feira?"
    # gets the shop's hours. Not after the article alone ("a segunda vez" is the second time)
    "pt": (
        (re.compile(r"\b(à|às|na|nas|de|até|ate)\s+(segunda|terça|terca|quarta|quinta|sexta)(s?)(?![\w-])",
                    re.IGNORECASE),
         r"\1 \2\3-feira\3"),
        # "portes" are the shipping costs (a door is "porta"), a word the encoder reads poorly: "Quanto são os portes
        # para Lisboa?" was out of scope (shipping_cost 0.27), "…os custos de envio…" is shipping_cost 0.99
        (re.compile(r"\bportes(?:\s+de\s+envio)?\b", re.IGNORECASE), "custos de envio"),
    ),
    "fr": (
        (re.compile(rf"\brendre(?=\s+(?:vous\s+|nous\s+)?{_OBJECT})", re.IGNORECASE), "retourner"),
        (re.compile(r"\b(les|la|le|l['’]|vous\s+le|vous\s+la|vous\s+les)(\s*)rendre\b", re.IGNORECASE),
         r"\1\2retourner"),
    ),
}


@functools.cache
def _tables() -> dict[str, tuple[re.Pattern[str], dict[str, str]]]:
    raw = yaml.safe_load(SHORTHAND_FILE.read_text(encoding="utf-8"))
    tables: dict[str, tuple[re.Pattern[str], dict[str, str]]] = {}
    for language, entries in raw.items():
        words = {str(k).casefold(): str(v) for k, v in entries.items()}
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        # a whole word: not inside another, not next to an apostrophe ("qu'il"), a digit or a hyphen
        tables[language] = (re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w'’-])", re.IGNORECASE), words)
    return tables


def expand_shorthand(text: str, language: str) -> str:
    """``text`` with the shorthand of ``language`` spelt out; unchanged for a language without a table."""
    table = _tables().get(language)
    if table is not None:
        pattern, words = table
        text = pattern.sub(lambda m: words[m.group(0).casefold()], text)
    for reworded, replacement in REWORDINGS.get(language, ()):
        text = reworded.sub(replacement, text)
    return text
