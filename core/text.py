"""Text compared the way people write it: without accents, case or punctuation.

Customers, spreadsheets and marketers write "Numéro de téléphone", "numero telephone", "ARRÊT!!" and
"arret" for the same thing. Every comparison of written words (keywords, country names, import
headers, contact search, knowledge search, the bot's entity checks) folds both sides with these two
functions, so they agree on what "the same word" means.
"""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """``text`` with its combining marks dropped (compatibility-decomposed): "Crème" → "Creme",
    "ﬁ" → "fi"; case and punctuation are kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def fold_words(text: str) -> str:
    """``text`` case-folded without accents, every run of characters that are not letters or digits one
    space, trimmed: " Arrêt!! " → "arret", "États-Unis" → "etats unis", "Straße" → "strasse"."""
    kept = "".join(ch if ch.isalnum() else " " for ch in strip_accents(text.casefold()))
    return " ".join(kept.split())
