"""Parsers from file formats to :class:`knowledge.types.ParsedDocument`, chosen by file suffix.

Parsing never touches the store: a file that fails to parse raises ``ValidationFailed`` before
anything of it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePath

from knowledge.ingest.common import invalid
from knowledge.ingest.faq import parse_faq_csv, parse_faq_json
from knowledge.ingest.html import parse_html
from knowledge.ingest.markdown import parse_markdown
from knowledge.ingest.pdf import parse_pdf
from knowledge.ingest.text import parse_text
from knowledge.types import ParsedDocument

Parser = Callable[..., ParsedDocument]
#: A title comes from the file (front matter, <title>, PDF metadata): kept to this many characters.
MAX_TITLE_CHARS = 200
#: Text one document may hold: it is chunked and embedded inside the upload request, about 30,000 characters a
#: second on two cores, so a 20 MB text file held a request thread and the CPU for ten minutes.
MAX_TEXT_CHARS = 1_000_000

PARSERS: dict[str, Parser] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".txt": parse_text,
    ".text": parse_text,
    ".csv": parse_faq_csv,
    ".json": parse_faq_json,
}
SUPPORTED_SUFFIXES = frozenset(PARSERS)


def parse_bytes(data: bytes, *, filename: str, source: str | None = None) -> ParsedDocument:
    """Parse ``data`` with the parser for ``filename``'s suffix.

    ``source`` names the document in errors and payloads (defaults to ``filename``). Raises
    ``ValidationFailed`` for an unsupported suffix, malformed content or a document with no text.
    """
    name = source or filename
    parser = PARSERS.get(PurePath(filename).suffix.lower())
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise invalid(name, f"unsupported file type (supported: {supported})")
    doc = parser(data, source=name, title=PurePath(filename).stem.replace("_", " ").replace("-", " "))
    if not doc.sections and not doc.faq:
        raise invalid(name, "no text found")
    size = sum(len(s.text) for s in doc.sections) + sum(len(e.question) + len(e.answer) for e in doc.faq)
    if size > MAX_TEXT_CHARS:
        raise invalid(name, f"the document holds {size:,} characters of text; documents take at most "
                      f"{MAX_TEXT_CHARS:,}: split it")  # fmt: skip
    if len(doc.title) > MAX_TITLE_CHARS:
        doc = replace(doc, title=doc.title[:MAX_TITLE_CHARS].rstrip())
    return doc


def parse_path(path: Path, *, source: str | None = None) -> ParsedDocument:
    """Read and parse one file; see :func:`parse_bytes`."""
    return parse_bytes(path.read_bytes(), filename=path.name, source=source or path.name)
