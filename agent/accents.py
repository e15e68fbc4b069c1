"""Accents and doubled letters a customer left out, put back for the models ("quel est le delai de livraison" ->
"... délai ...", "ou est ma comande" -> "... commande").

Customers text without accents; the encoder reads an unaccented word it was never shown as another word or none:
"quel est le delai de livraison ?" was shipping_cost 0.65 (delivery_time 0.03) and got the shipping prices, where "…
délai …" is delivery_time 1.00. The spellings come from the deployment's own intent examples, per language: a folded
word written with accents there, always the same way and never without them, gets them back. A word the examples
never write that is one of theirs with a doubled letter single or a single one doubled ("comande"; "livrason" does
not count: a letter is missing) is read as theirs: "ou est ma comande svp" was out of scope (0.94) and went to a
person. Only what the models read changes, as with the shorthand (``agent/shorthand.py``): the stored message and
keywords see the text as received; language detection reads a word respelt when one language alone writes it so
(:meth:`Accents.one_language`: "ma comande est ou ?" was read as Portuguese).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from agent.entities import fold

#: Shorter words are left alone: "a"/"à", "ou"/"où", "e"/"é" are both words.
MIN_LETTERS = 4
#: A word is respelt with doubled letters from this many letters: short words differing so are often two words.
MIN_DOUBLED_LETTERS = 5
#: A word no example of any language writes is read as the one of the message's language's examples it is with two
#: neighbouring letters swapped ("retrun" -> "return", "cna" -> "can") from this many letters; it chooses the language
#: (:meth:`Accents.one_language`) from ``MIN_DOUBLED_LETTERS``.
MIN_SWAPPED_LETTERS = 3

_WORD = re.compile(r"[^\W\d_]+")
_DOUBLE = re.compile(r"(\w)\1+")


def single_letters(word: str) -> str:
    """``word`` with each run of one letter written once ("commande" -> "comande")."""
    return _DOUBLE.sub(r"\1", word)


def swapped(word: str) -> set[str]:
    """``word`` with two neighbouring letters swapped, each way it can be ("can" -> "acn", "cna")."""
    return {f"{word[:i]}{word[i + 1]}{word[i]}{word[i + 2:]}" for i in range(len(word) - 1) if word[i] != word[i + 1]}


class Accents:
    """Per language, folded word -> the one accented spelling the examples write it with, and a word written with
    single letters -> the one spelling of the examples it stands for."""

    def __init__(self, texts: Mapping[str, Iterable[str]],
                 whole_word: Callable[[str], bool] = lambda word: False) -> None:
        """``texts``: language -> texts written with their accents (the intents' examples); ``whole_word``: whether
        the encoder knows a (folded) word as one piece (``knowledge.embeddings.Embedder.whole_word``): such a word
        is no typo to respell by swapping letters ("form" is not "from", "three" not "there")."""
        self._whole_word = functools.lru_cache(maxsize=4096)(whole_word)
        self._spellings: dict[str, dict[str, str]] = {}
        self._known: dict[str, frozenset[str]] = {}
        self._doubled: dict[str, dict[str, str]] = {}
        self._swapped: dict[str, dict[str, str]] = {}
        # every folded word the examples of any language write: a word one of them knows is nobody's typo
        self._everywhere: set[str] = set()
        self._vocabulary: dict[str, frozenset[str]] = {}
        for language, items in texts.items():
            seen: dict[str, set[str]] = defaultdict(set)
            short: set[str] = set()
            for text in items:
                for word in _WORD.findall(text.lower()):
                    if len(word) >= MIN_LETTERS:
                        seen[fold(word).strip()].add(word)
                    elif len(word) >= MIN_SWAPPED_LETTERS:
                        short.add(fold(word).strip())
            self._vocabulary[language] = frozenset({*seen, *short})
            self._everywhere |= self._vocabulary[language]
            swaps: dict[str, set[str]] = defaultdict(set)
            for plain in {*seen, *short}:
                for variant in swapped(plain):
                    swaps[variant].add(plain)
            self._swapped[language] = {variant: next(iter(plains)) for variant, plains in swaps.items()
                                       if len(plains) == 1}
            self._spellings[language] = {plain: next(iter(spelt)) for plain, spelt in seen.items()
                                         if len(spelt) == 1 and next(iter(spelt)) != plain}
            self._known[language] = frozenset(seen)
            runs: dict[str, set[str]] = defaultdict(set)
            for plain in seen:
                if len(plain) >= MIN_DOUBLED_LETTERS:
                    runs[single_letters(plain)].add(plain)
            self._doubled[language] = {single: next(iter(plains)) for single, plains in runs.items()
                                       if len(plains) == 1}

    def one_language(self, text: str) -> str:
        """``text`` with its words respelt as one language's examples write them, when that language is the only one
        whose examples write a word of ``text`` with doubled letters, that word being no example's as it is written;
        unchanged otherwise. What the language detector reads: "ma comande est ou ?" was read as Portuguese (0.24),
        where "comande" is French's "commande" with a letter left single ("ma commande est où ?": French, 0.60)."""
        languages = set()
        words = [fold(word).strip() for word in _WORD.findall(text)]
        for plain in words:
            if len(plain) < MIN_DOUBLED_LETTERS or any(plain in known for known in self._known.values()):
                continue
            languages |= {language for language, doubled in self._doubled.items() if single_letters(plain) in doubled}
            # a word with two letters swapped only where the rest of the text is that language's: "trade" in "do you
            # have trade prices?" is Portuguese "tarde" swapped, and the text was read as French
            languages |= {language for language, swaps in self._swapped.items()
                          if plain in swaps and self._mostly(words, plain, language) and not self._whole_word(plain)}
        return self.restore(text, languages.pop()) if len(languages) == 1 else text

    def _mostly(self, words: list[str], typo: str, language: str) -> bool:
        """Whether ``language``'s examples write at least half the ``words`` of three letters or more other than
        ``typo`` ("cna i retrun my order": "order" is English's, "cna" the one other)."""
        others = [word for word in words if word != typo and len(word) >= MIN_SWAPPED_LETTERS]
        vocabulary = self._vocabulary[language]
        return 2 * sum(word in vocabulary or word in self._swapped[language] for word in others) >= len(others)

    def restore(self, text: str, language: str) -> str:
        """``text`` with the accents its unaccented words lack in ``language``'s spellings, and its words the
        examples never write respelt as the one of theirs they differ from by doubled letters; unchanged otherwise."""
        spellings = self._spellings.get(language)
        if spellings is None:
            return text
        known = self._known[language]
        doubled = self._doubled[language]
        swaps = self._swapped[language]

        def respelt(match: re.Match[str]) -> str:
            word = match.group(0)
            plain = fold(word).strip()
            if len(plain) >= MIN_DOUBLED_LETTERS and plain not in known:
                found = doubled.get(single_letters(plain))
                if found is not None:
                    spelt = spellings.get(found, found)
                    return spelt.capitalize() if word[0].isupper() else spelt
            if len(plain) >= MIN_SWAPPED_LETTERS and plain not in self._everywhere and plain in swaps and \
                    not self._whole_word(plain):
                spelt = spellings.get(swaps[plain], swaps[plain])
                return spelt.capitalize() if word[0].isupper() else spelt
            spelt_plain = spellings.get(word.lower()) if word.isascii() and len(word) >= MIN_LETTERS else None
            if spelt_plain is None:
                return word
            return spelt_plain.capitalize() if word[0].isupper() else spelt_plain

        return _WORD.sub(respelt, text)
