"""Typed values that flow through the knowledge package: parsed documents, chunks, hits.

Everything here is frozen: a parser builds a :class:`ParsedDocument`, the chunker turns it into
:class:`Chunk` values, the store keeps them, and retrieval hands back :class:`Hit` values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

LanguageDetector = Callable[[str], str]
"""Maps a text to an ISO 639-1 code (``"fr"``); plugged in by the agent's language detector."""


@dataclass(frozen=True)
class Section:
    """A run of prose under one heading path (``("Shipping", "Returns")``), in reading order."""

    headings: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass(frozen=True)
class FaqEntry:
    """One question/answer row of an FAQ file; ``row`` is its line (CSV) or index (JSON), 1-based."""

    question: str
    answer: str
    row: int
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser extracted from one file, before chunking.

    ``language`` and ``tags`` come from the document itself (front matter, ``<html lang>``, PDF
    metadata); the ingest call may add to them. A document has either sections or FAQ entries.
    """

    source: str
    title: str
    kind: str  # "markdown" | "html" | "pdf" | "text" | "faq"
    sections: tuple[Section, ...] = ()
    faq: tuple[FaqEntry, ...] = ()
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit. ``id`` is stable for (knowledge base, document, content hash)."""

    id: str
    kb: str
    document_id: str
    source: str
    title: str
    headings: tuple[str, ...]
    text: str
    language: str
    tags: tuple[str, ...]
    content_hash: str
    position: int
    page: int | None = None
    question: str | None = None
    answer: str | None = None

    @property
    def heading_path(self) -> str:
        """Headings joined as shown to people: ``"Shipping > Returns"`` (empty when none)."""
        return " > ".join(self.headings)

    @property
    def embed_text(self) -> str:
        """The text the embedder and the content hash see.

        Passages are prefixed with their title and headings for context; an FAQ entry is its
        question and answer alone (a title like "FAQ" would only blur the question).
        """
        return embed_text(self.title, self.headings, self.text, faq=self.question is not None)


def embed_text(title: str, headings: tuple[str, ...], text: str, *, faq: bool = False) -> str:
    """See :attr:`Chunk.embed_text`."""
    if faq:
        return text
    context = [h for h in (title, *headings) if h]
    # a heading that repeats the title adds nothing
    deduped = [h for i, h in enumerate(context) if i == 0 or h != context[i - 1]]
    return (" > ".join(deduped) + "\n" + text) if deduped else text


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the store sees it: how many chunks it has and in which languages."""

    kb: str
    document_id: str
    source: str
    title: str
    chunks: int
    languages: tuple[str, ...]
    tags: tuple[str, ...]
    ingested_at: datetime | None


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one document changed.

    ``embedded`` chunks were new (or changed) and went through the embedder; ``unchanged`` ones kept
    their stored vectors; ``deleted`` ones were in the previous version only.
    """

    kb: str
    document_id: str
    chunks: int
    embedded: int
    unchanged: int
    deleted: int


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    ``score`` is the calibrated relevance in [0, 1] that thresholds apply to: the cosine similarity
    between the query and the chunk embeddings, clipped at 0, whatever list found the chunk.
    ``fused_score`` is the reciprocal-rank-fusion value that orders hits (only comparable within
    one search). ``dense_rank``/``bm25_rank`` are 1-based positions in each list, ``None`` when the
    chunk was not in it. ``language_fallback`` is true when nothing matched the requested language
    and the search was widened to every language.
    """

    chunk_id: str
    kb: str
    document_id: str
    source: str
    title: str
    headings: tuple[str, ...]
    text: str
    language: str
    tags: tuple[str, ...]
    rank: int
    score: float
    dense_score: float
    bm25_score: float
    fused_score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    question: str | None = None
    answer: str | None = None
    page: int | None = None
    language_fallback: bool = False

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    @property
    def is_faq(self) -> bool:
        return self.answer is not None
