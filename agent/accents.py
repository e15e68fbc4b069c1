"""Accents a customer left out, put back for the models ("quel est le delai de livraison" -> "... délai ...").

Customers text without accents; the encoder reads an unaccented word it was never shown as another word or none:
"quel est le delai de livraison ?" was shipping_cost 0.65 (delivery_time 0.03) and got the shipping prices, where "…
délai …" is delivery_time 1.00. The spellings come from the deployment's own intent examples, per language: a folded
word written with accents there, always the same way and never without them, gets them back. Only what the models
read changes, as with the shorthand (``agent/shorthand.py``): the stored message, keywords and language detection
see the text as received.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from agent.entities import fold

#: Shorter words are left alone: "a"/"à", "ou"/"où", "e"/"é" are both words.
MIN_LETTERS = 4

_WORD = re.compile(r"[^\W\d_]+")


class Accents:
    """Per language, folded word -> the one accented spelling the examples write it with."""

    def __init__(self, texts: Mapping[str, Iterable[str]]) -> None:
        """``texts``: language -> texts written with their accents (the intents' examples)."""
        self._spellings: dict[str, dict[str, str]] = {}
        for language, items in texts.items():
            seen: dict[str, set[str]] = defaultdict(set)
            for text in items:
                for word in _WORD.findall(text.lower()):
                    if len(word) >= MIN_LETTERS:
                        seen[fold(word).strip()].add(word)
            self._spellings[language] = {plain: next(iter(spelt)) for plain, spelt in seen.items()
                                         if len(spelt) == 1 and next(iter(spelt)) != plain}

    def restore(self, text: str, language: str) -> str:
        """``text`` with the accents its unaccented words lack in ``language``'s spellings; unchanged otherwise."""
        spellings = self._spellings.get(language)
        if not spellings:
            return text

        def accented(match: re.Match[str]) -> str:
            word = match.group(0)
            spelt = spellings.get(word.lower()) if word.isascii() and len(word) >= MIN_LETTERS else None
            if spelt is None:
                return word
            return spelt.capitalize() if word[0].isupper() else spelt

        return _WORD.sub(accented, text)
