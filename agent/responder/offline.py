"""The offline responder: the best-matching FAQ answer, or the passage sentences closest to the
question, in the customer's language when the knowledge base has it, within the SMS budget.

Several questions are answered in order, each with its own passages. The combined reply must fit
``MAX_SEGMENTS`` SMS segments (counted by ``channels.encoding``): sentences are added round-robin
(first sentence of every answer, then the second...) while they fit, so each question gets
something before any answer gets long. A reply that only fits because of an accented character
forcing UCS-2 (70 characters a segment instead of 160) is folded to GSM-7 (``ê`` -> ``e``) when
that makes it fit more.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from agent.decision import Source
from agent.responder import Answer, Question, source_of
from channels.encoding import SMART_REPLACEMENTS, analyze, is_gsm7
from knowledge.types import Hit

MAX_SEGMENTS = 2

#: A FAQ hit within this cosine of the best hit is preferred to a passage (FAQ answers are written
#: to be sent as they are; passages need extracting).
FAQ_PREFERENCE = 0.05

#: Sentences kept from a passage.
PASSAGE_SENTENCES = 2

_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý0-9«\"'(])")
_WORD = re.compile(r"\w+", re.UNICODE)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (a line break ends one too)."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCES.split(line.strip()) if s.strip()]
    return out


def _tokens(text: str) -> set[str]:
    return {w for w in _WORD.findall(_fold_accents(text.casefold())) if len(w) > 2}


def _fold_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def gsm_fold(text: str) -> str:
    """``text`` with characters outside GSM-7 replaced by their closest GSM-7 form when one exists
    (typographic quotes and dashes, then accented letters to their base letter)."""
    out = []
    for ch in text:
        if is_gsm7(ch):
            out.append(ch)
            continue
        replaced = SMART_REPLACEMENTS.get(ch)
        if replaced is not None:
            out.append(replaced)
            continue
        base = _fold_accents(ch)
        out.append(base if base and is_gsm7(base) else ch)
    return "".join(out)


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    return analyze(text).segments <= max_segments


def _truncate_words(text: str, max_segments: int) -> str:
    words = text.split()
    while words:
        candidate = " ".join(words).rstrip(",;:") + "..."
        if fits(candidate, max_segments):
            return candidate
        words.pop()
    return ""


def fit_parts(parts: Sequence[str], max_segments: int = MAX_SEGMENTS) -> str:
    """Join ``parts`` (one answer per question) into one text of at most ``max_segments`` segments.

    Sentences are taken round-robin across parts while the whole fits; a first sentence too long
    for the budget is cut at a word boundary and ends with "...".
    """
    split = [sentences(p) or [p] for p in parts if p.strip()]
    if not split:
        return ""
    whole = " ".join(" ".join(s) for s in split)
    for full in (whole, gsm_fold(whole)):
        if fits(full, max_segments):
            return full
    chosen: list[list[str]] = [[] for _ in split]
    best = ""
    for depth in range(max(len(s) for s in split)):
        for index, part in enumerate(split):
            if depth >= len(part):
                continue
            chosen[index].append(part[depth])
            candidate = " ".join(" ".join(c) for c in chosen if c)
            for option in (candidate, gsm_fold(candidate)):
                if fits(option, max_segments):
                    best = option
                    break
            else:
                chosen[index].pop()
    if best:
        return best
    return _truncate_words(gsm_fold(split[0][0]), max_segments)


def _pick(hits: Sequence[Hit], language: str) -> Hit:
    """The hit to answer from: the best one, unless a FAQ entry (preferably in ``language``) is
    almost as relevant."""
    best = hits[0]
    if best.is_faq and best.language == language:
        return best
    near = [h for h in hits if h.is_faq and h.score >= best.score - FAQ_PREFERENCE]
    near.sort(key=lambda h: (h.language != language, -h.score))
    return near[0] if near else best


def extract(question: str, hit: Hit, limit: int = PASSAGE_SENTENCES) -> str:
    """The answer text of ``hit``: its FAQ answer, or its ``limit`` sentences sharing the most words
    with ``question`` (kept in passage order)."""
    if hit.answer:
        return hit.answer.strip()
    found = sentences(hit.text)
    if len(found) <= limit:
        return " ".join(found)
    wanted = _tokens(question)
    ranked = sorted(range(len(found)), key=lambda i: (-len(wanted & _tokens(found[i])), i))[:limit]
    return " ".join(found[i] for i in sorted(ranked))


def answer_offline(questions: Sequence[Question], *, language: str, min_score: float,
                   max_segments: int = MAX_SEGMENTS) -> Answer | None:
    """An extractive answer to every question whose best passage scores at least ``min_score``;
    None when no question has one."""
    parts: list[str] = []
    sources: list[Source] = []
    for question in questions:
        usable = [h for h in question.hits if h.score >= min_score]
        if not usable:
            continue
        hit = _pick(usable, language)
        parts.append(extract(question.text, hit))
        sources.append(source_of(hit))
    if not parts:
        return None
    text = fit_parts(parts, max_segments)
    return Answer(text=text, sources=tuple(sources), path="offline") if text else None
