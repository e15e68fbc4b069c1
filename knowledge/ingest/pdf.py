"""PDF through pypdf: one section per page so every chunk keeps its page number.

Scanned PDFs (no text layer) are rejected: there is no OCR here.
"""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from knowledge.ingest.common import invalid, normalise_language, paragraphs
from knowledge.types import ParsedDocument, Section

#: Pages read from one PDF. Pages may share one page object: a 120 KB file listing it 20,000 times took 17 s in the
#: request (pypdf stops at 100,000 entries: a minute and a half), each page's text extracted again.
MAX_PAGES = 2_000


def parse_pdf(data: bytes, *, source: str, title: str) -> ParsedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise invalid(source, "the PDF is password-protected")
        if len(reader.pages) > MAX_PAGES:
            raise invalid(source, f"the PDF has {len(reader.pages):,} pages; documents take at most {MAX_PAGES:,}")
        sections: list[Section] = []
        for number, page in enumerate(reader.pages, start=1):
            text = "\n\n".join(paragraphs(page.extract_text() or ""))
            if text:
                sections.append(Section(headings=(), text=text, page=number))
        meta_title = reader.metadata.title if reader.metadata else None
        lang = reader.root_object.get("/Lang")
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise invalid(source, f"not a readable PDF ({exc})") from exc
    try:
        language = normalise_language(str(lang) if lang else None)
    except ValueError:
        language = None  # a bad /Lang entry in the catalog is the producer's bug, not the user's
    if not sections and reader.pages:
        raise invalid(source, "the PDF has no text layer (scanned pages are not supported)")
    return ParsedDocument(
        source=source,
        title=str(meta_title).strip() if meta_title and str(meta_title).strip() else title,
        kind="pdf",
        sections=tuple(sections),
        language=language,
    )
