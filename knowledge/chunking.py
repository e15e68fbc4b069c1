"""Split parsed documents into chunks: by heading first, then by size on sentence boundaries.

A chunk aims at ``min_words``..``max_words`` words (80..200 by default); a long section is cut into
near-equal parts so no tiny tail is left, and each part after the first repeats the last sentence(s)
of the previous one (up to ``overlap_words``) so an answer straddling a cut is still found whole.
A chunk's id is a UUID derived from (knowledge base, document id, content hash): re-ingesting an
unchanged passage yields the same id, which is what lets re-ingest skip re-embedding it.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.types import Chunk, LanguageDetector, ParsedDocument, embed_text

_NAMESPACE = uuid.UUID("6f1c1d3e-52a4-4f38-9a8e-2b7d0e4c9a11")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»)\]]*\s+(?=\S)")
UNKNOWN_LANGUAGE = "und"


@dataclass(frozen=True)
class _Unit:
    text: str
    words: int
    starts_paragraph: bool


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(kb: str, document_id: str, digest: str) -> str:
    """The stable point id of a chunk (a UUID string, as Qdrant wants)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kb}\x00{document_id}\x00{digest}"))


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    for paragraph in text.split("\n\n"):
        first = True
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            sentence = sentence.strip()
            if sentence:
                units.append(_Unit(sentence, len(sentence.split()), first))
                first = False
    return units


def _split_long(unit: _Unit, max_words: int) -> list[_Unit]:
    """A sentence longer than ``max_words`` cut into near-equal runs of words."""
    if unit.words <= max_words:
        return [unit]
    words = unit.text.split()
    size = math.ceil(len(words) / math.ceil(len(words) / max_words))
    return [
        _Unit(" ".join(words[i : i + size]), len(words[i : i + size]), unit.starts_paragraph and i == 0)
        for i in range(0, len(words), size)
    ]


def _render(units: Iterable[_Unit]) -> str:
    out: list[str] = []
    for i, unit in enumerate(units):
        if i:
            out.append("\n\n" if unit.starts_paragraph else " ")
        out.append(unit.text)
    return "".join(out)


def split_text(text: str, *, min_words: int = 80, max_words: int = 200, overlap_words: int = 30) -> list[str]:
    """Cut ``text`` into pieces of about ``min_words``..``max_words`` words on sentence boundaries.

    A single sentence longer than ``max_words`` is cut between words.
    """
    units = [piece for unit in _units(text) for piece in _split_long(unit, max_words)]
    total = sum(u.words for u in units)
    if total <= max_words:
        return [_render(units)] if units else []
    target = max(min_words, math.ceil(total / math.ceil(total / max_words)))
    pieces: list[list[_Unit]] = []
    current: list[_Unit] = []
    fresh = 0  # words in ``current`` that are not overlap
    for unit in units:
        if fresh and sum(u.words for u in current) + unit.words > max_words:
            pieces.append(current)
            current = _overlap(current, overlap_words)
            fresh = 0
        current.append(unit)
        fresh += unit.words
        if sum(u.words for u in current) >= target:
            pieces.append(current)
            current = _overlap(current, overlap_words)
            fresh = 0
    if fresh:
        pieces.append(current)
    return [_render(p) for p in pieces]


def _overlap(units: list[_Unit], overlap_words: int) -> list[_Unit]:
    tail: list[_Unit] = []
    words = 0
    for unit in reversed(units[1:]):  # never the whole chunk again
        if words + unit.words > overlap_words:
            break
        tail.insert(0, unit)
        words += unit.words
    return tail


def _language(*candidates: str | None, text: str, detect_language: LanguageDetector | None) -> str:
    for code in candidates:
        if code:
            return code
    if detect_language is not None:
        return detect_language(text) or UNKNOWN_LANGUAGE
    return UNKNOWN_LANGUAGE


def chunk_document(
    doc: ParsedDocument,
    *,
    kb: str,
    document_id: str,
    tags: Iterable[str] = (),
    language: str | None = None,
    detect_language: LanguageDetector | None = None,
    min_words: int = 80,
    max_words: int = 200,
    overlap_words: int = 30,
) -> list[Chunk]:
    """The chunks of ``doc`` in reading order, duplicates (same content in one document) dropped.

    A chunk's language is the FAQ row's, else the document's own (front matter, ``<html lang>``,
    PDF catalog), else ``language``, else ``detect_language(chunk text)``, else ``"und"``.
    Its tags are the document's, plus ``tags``, plus the FAQ row's.
    """
    base_tags = tuple(dict.fromkeys([*doc.tags, *(t.strip().lower() for t in tags if t.strip())]))
    chunks: list[Chunk] = []
    seen: set[str] = set()

    def add(
        text: str,
        headings: tuple[str, ...],
        lang: str,
        extra_tags: tuple[str, ...] = (),
        *,
        page: int | None = None,
        question: str | None = None,
        answer: str | None = None,
    ) -> None:
        digest = content_hash(embed_text(doc.title, headings, text, faq=question is not None))
        if digest in seen:
            return
        seen.add(digest)
        chunks.append(
            Chunk(
                id=chunk_id(kb, document_id, digest),
                kb=kb,
                document_id=document_id,
                source=doc.source,
                title=doc.title,
                headings=headings,
                text=text,
                language=lang,
                tags=tuple(dict.fromkeys([*base_tags, *extra_tags])),
                content_hash=digest,
                position=len(chunks),
                page=page,
                question=question,
                answer=answer,
            )
        )

    for entry in doc.faq:
        text = f"{entry.question}\n{entry.answer}"
        lang = _language(entry.language, doc.language, language, text=text, detect_language=detect_language)
        add(text, (), lang, entry.tags, question=entry.question, answer=entry.answer)
    for section in doc.sections:
        for piece in split_text(section.text, min_words=min_words, max_words=max_words, overlap_words=overlap_words):
            lang = _language(doc.language, language, text=piece, detect_language=detect_language)
            add(piece, section.headings, lang, page=section.page)
    return chunks
