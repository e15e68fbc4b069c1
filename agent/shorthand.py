"""SMS shorthand spelt out for the models ("vs etes ouverts le lundi ?" -> "vous etes ouverts le lundi ?").

The intent and retrieval models were trained on written phrasings; a customer's "vs", "pr", "qd" or
"xq" is a word they do not know, enough to push a plain question out of scope. The table
(``agent/resources/shorthand.yaml``) is per language: the message's detected language picks it, so
"vs" is "vous" in French and stays "vs" in English. Only what the models read changes: the stored
message, keyword matching and language detection see the text as received.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

SHORTHAND_FILE = Path(__file__).resolve().parent / "resources" / "shorthand.yaml"


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
    if table is None:
        return text
    pattern, words = table
    return pattern.sub(lambda m: words[m.group(0).casefold()], text)
