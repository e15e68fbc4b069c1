"""An in-process BM25 index over one knowledge base's chunks, updated as chunks come and go.

Why in-process rather than Qdrant sparse vectors: Qdrant's local mode took ~18 ms for one sparse
query at 10k points before any filter, no faster than this index; here filters by language/tags
cost nothing and the tokenizer (accent folding, product codes, stop words in six languages) is ours
to tune. The index is rebuilt from the store's payloads when a process starts searching.

Tokens: NFKD-folded, lower-cased word characters; a code such as ``RX-200`` or ``A12/B`` also
yields its joined form (``rx200``) so either spelling matches; stop words and one-letter tokens are
dropped; a trailing plural ``s`` is removed from words longer than four letters.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.text import strip_accents

_WORD = re.compile(r"\w+")
_CODE_JOINERS = frozenset("-/.")
_STOP_WORDS_TEXT = """
    a an and are as at be been but by can could do does for from had has have how i if in into is it
    its me my no not of on or our so than that the their them then there these they this to us was
    we were what when where which who why will with would you your yours
    au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui ma mais me
    mes mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu
    un une vos votre vous y
    al como con del el ella ellos es esta este hay las lo los mi mis no por que se su sus un una
    uno y yo
    auf das dem den der des die du ein eine einen er es ich ihr im ist mit nicht sie und von wie
    wir zu
    che chi come da dei della di gli il io lei mio nel per sono su tu una
    ao as do dos em eu isso mas na nas no nos os para pela pelo se sua seu um uma voce
"""
#: words too common to index, in the languages the knowledge base serves
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def stem(token: str) -> str:
    """A plural's singular, crudely (``boxes`` → ``boxe``, never ``glass``): the same cut for query and text."""
    return token[:-1] if len(token) > 4 and token.endswith("s") and not token.endswith("ss") else token


def tokenize(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (they are term frequencies).

    One pass over the words, in time linear in ``len(text)``: a code is a run of words each joined
    to the previous one by exactly one ``-``, ``/`` or ``.``. (The regex ``\\w+(?:[-/.]\\w+)+`` it
    replaces backtracked quadratically: 82 s for 40,000 letters, holding the GIL.)
    """
    folded = strip_accents(text.lower())  # lower case without accents: a query matches however it is typed
    tokens: list[str] = []
    codes: list[str] = []
    parts: list[str] = []
    end = -2
    for match in _WORD.finditer(folded):
        word = match.group()
        if len(word) > 1 and word not in STOP_WORDS and word != "_":
            tokens.append(stem(word))
        if match.start() == end + 1 and folded[end] in _CODE_JOINERS:
            parts.append(word)
        else:
            _add_code(codes, parts)
            parts = [word]
        end = match.end()
    _add_code(codes, parts)
    return tokens + codes


@functools.lru_cache(maxsize=16)
def query_terms(query: str) -> tuple[str, ...]:
    """The distinct terms of ``query``, in the order a set of them is iterated (scores add up in that order).
    A hybrid search reads them three times (candidates, their scores, the query's weight): tokenized once.
    The last few queries only: the point is a search's own repeats, not a customer's text seen before."""
    return tuple(set(tokenize(query)))


def _add_code(codes: list[str], parts: list[str]) -> None:
    """Append the joined form of a code of several parts when it holds a digit (``rx-200`` → ``rx200``)."""
    if len(parts) > 1 and any(ch.isdigit() for part in parts for ch in part):
        codes.append("".join(parts))


@dataclass(frozen=True)
class _Meta:
    language: str
    tags: frozenset[str]


class Bm25Index:
    """Okapi BM25 (``k1``, ``b``) with the non-negative IDF ``log(1 + (N - df + 0.5) / (df + 0.5))``."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[str, int]] = {}
        self._lengths: dict[str, int] = {}
        self._meta: dict[str, _Meta] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._lengths

    def add(self, chunk_id: str, text: str, *, language: str, tags: Iterable[str] = ()) -> None:
        """Index ``text`` under ``chunk_id``, replacing whatever was there."""
        if chunk_id in self._lengths:
            self.remove([chunk_id])
        counts = Counter(tokenize(text))
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[chunk_id] = tf
        length = sum(counts.values())
        self._lengths[chunk_id] = length
        self._total += length
        self._meta[chunk_id] = _Meta(language, frozenset(tags))

    def remove(self, chunk_ids: Iterable[str]) -> None:
        """Drop these chunks from the index (unknown ids are ignored)."""
        doomed = {c for c in chunk_ids if c in self._lengths}
        if not doomed:
            return
        for chunk_id in doomed:
            self._total -= self._lengths.pop(chunk_id)
            del self._meta[chunk_id]
        for term in list(self._postings):
            postings = self._postings[term]
            for chunk_id in doomed & postings.keys():
                del postings[chunk_id]
            if not postings:
                del self._postings[term]

    def _idf(self, df: int) -> float:
        n = len(self._lengths)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _term_score(self, idf: float, tf: int, chunk_id: str, avg: float) -> float:
        norm = tf + self.k1 * (1.0 - self.b + self.b * self._lengths[chunk_id] / avg)
        return idf * tf * (self.k1 + 1.0) / norm

    def query_weight(self, query: str) -> float:
        """The sum of the query terms' IDF (a term absent from the index counts as the rarest).

        A chunk of average length holding every query term once scores about this much, so
        ``score / query_weight`` reads as "the share of the query's keyword weight matched".
        """
        return sum(self._idf(len(self._postings.get(term, ()))) for term in query_terms(query))

    def scores(self, query: str, chunk_ids: Iterable[str]) -> dict[str, float]:
        """The BM25 score of each of ``chunk_ids`` (0 when it shares no term with the query)."""
        wanted = [c for c in chunk_ids if c in self._lengths]
        out = dict.fromkeys(wanted, 0.0)
        if not wanted:
            return out
        avg = self._total / len(self._lengths) or 1.0
        for term in query_terms(query):
            postings = self._postings.get(term)
            if postings:
                idf = self._idf(len(postings))
                for chunk_id in wanted:
                    tf = postings.get(chunk_id)
                    if tf:
                        out[chunk_id] += self._term_score(idf, tf, chunk_id, avg)
        return out

    def search(
        self, query: str, *, limit: int, language: str | None = None, tags: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``limit`` best ``(chunk_id, score)`` pairs, best first; chunks with no query term are left out."""
        if not self._lengths:
            return []
        avg = self._total / len(self._lengths) or 1.0
        wanted = frozenset(tags or ())
        scores: dict[str, float] = {}
        for term in query_terms(query):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = self._idf(len(postings))
            for chunk_id, tf in postings.items():
                meta = self._meta[chunk_id]
                if (language is not None and meta.language != language) or (wanted and not wanted & meta.tags):
                    continue
                scores[chunk_id] = scores.get(chunk_id, 0.0) + self._term_score(idf, tf, chunk_id, avg)
        return heapq.nlargest(limit, scores.items(), key=lambda item: item[1])
