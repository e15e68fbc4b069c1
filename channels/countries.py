"""A country as people write it in a file's country column, to the region code a phone number is read in.

Exported customer lists name countries in words ("France", "Espagne", "Deutschland", "Royaume-Uni"),
rarely as ISO codes. Read as the default region instead, a Spanish national number "612 345 678"
became the French +33 6 12 34 56 78, which matched another customer and was skipped as a duplicate,
and a German "0151 23456789" was rejected as too long. Names come from Babel's territory names in the
languages the product speaks, plus the usual short forms (UK, USA, England, Holland).
"""

from __future__ import annotations

import functools

import phonenumbers
from babel import Locale

from core.text import fold_words

#: the languages whose country names are recognised
LANGUAGES = ("en", "fr", "es", "de", "it", "pt", "nl")

#: short and informal forms a spreadsheet holds that are not Babel's names
_ALIASES = {
    "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "angleterre": "GB", "grande bretagne": "GB", "ecosse": "GB",
    "inglaterra": "GB", "gran bretana": "GB", "grossbritannien": "GB", "inghilterra": "GB",
    "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US", "america": "US",
    "etats unis d amerique": "US", "holland": "NL", "hollande": "NL", "the netherlands": "NL",
    "czech republic": "CZ", "republique tcheque": "CZ",
}  # fmt: skip


@functools.cache
def _names() -> dict[str, str]:
    """Folded country name -> region code, for every region phone numbers can be read in."""
    names: dict[str, str] = {}
    for language in LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if code in phonenumbers.SUPPORTED_REGIONS:
                names.setdefault(fold_words(name), code)
    names.update(_ALIASES)
    return names


def region_code(text: str) -> str | None:
    """The region code (``FR``) that ``text`` names, as a code in any case or a country's name; None if none.

    A whole-cell match only: a country column holds a country, so "Jersey" is the island here, not
    the garment the agent must not read as a place.
    """
    code = text.strip().upper()
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    return _names().get(fold_words(text))
