"""Plain text: one section (no headings); the chunker splits it by paragraph and sentence."""

from __future__ import annotations

from knowledge.ingest.common import decode_text, paragraphs
from knowledge.types import ParsedDocument, Section


def parse_text(data: bytes, *, source: str, title: str) -> ParsedDocument:
    text = "\n\n".join(paragraphs(decode_text(data, source)))
    sections = (Section(headings=(), text=text),) if text else ()
    return ParsedDocument(source=source, title=title, kind="text", sections=sections)
