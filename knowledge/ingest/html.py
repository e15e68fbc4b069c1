"""HTML: headings kept as the section path; navigation, scripts, styles and similar chrome dropped.

The language comes from ``<html lang>`` (or a ``content-language`` meta), the title from
``<title>`` then the first ``<h1>``.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Doctype, PageElement, ProcessingInstruction

from knowledge.ingest.common import clean_inline, invalid, normalise_language
from knowledge.types import ParsedDocument, Section

_DROP = ("nav", "script", "style", "noscript", "template", "svg", "iframe", "head", "button", "select")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "li", "ul", "ol", "pre", "blockquote", "table", "tr", "td", "th", "thead", "tbody",
    "dl", "dt", "dd", "section", "article", "main", "header", "footer", "aside", "figure",
    "figcaption", "address", "br", "hr", "details", "summary", "form", "fieldset", "caption",
}  # fmt: skip


class _Walker:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.buffer: list[str] = []
        self.first_h1: str | None = None

    def end_block(self) -> None:
        text = clean_inline("".join(self.buffer).replace("\n", " "))
        if text:
            self.blocks.append(text)
        self.buffer = []

    def end_section(self) -> None:
        self.end_block()
        if self.blocks:
            headings = tuple(h for _, h in self.stack if h)
            self.sections.append(Section(headings=headings, text="\n\n".join(self.blocks)))
        self.blocks = []

    def walk(self, node: Tag) -> None:
        """Visit ``node``'s descendants in document order with a stack of its own, not Python's: a page of 10,000
        nested ``<div>`` (no browser minds) overflowed the recursion that walked it before, a 500."""
        pending: list[PageElement | None] = list(reversed(node.contents))  # None: the end of a block
        while pending:
            child = pending.pop()
            if child is None:
                self.end_block()
            elif isinstance(child, Comment | Doctype | ProcessingInstruction):
                continue
            elif isinstance(child, NavigableString):
                self.buffer.append(str(child))
            elif isinstance(child, Tag) and not self.element(child):
                if child.name.lower() in _BLOCKS:
                    self.end_block()
                    pending.append(None)
                pending.extend(reversed(child.contents))

    def element(self, tag: Tag) -> bool:
        """Take a heading or a ``<pre>`` whole; False for any other tag, whose children are walked."""
        name = tag.name.lower()
        if name in _HEADINGS:
            self.end_section()
            text = clean_inline(tag.get_text(" ", strip=True))
            level = _HEADINGS[name]
            if level == 1 and self.first_h1 is None and text:
                self.first_h1 = text
            while self.stack and self.stack[-1][0] >= level:
                self.stack.pop()
            self.stack.append((level, text))
            return True
        if name == "pre":
            self.end_block()
            text = tag.get_text().strip("\n")
            if text.strip():
                self.blocks.append(text)
            return True
        return False


def _language(soup: BeautifulSoup, source: str) -> str | None:
    html = soup.find("html")
    code = html.get("lang") if isinstance(html, Tag) else None
    if not code:
        meta = soup.find("meta", attrs={"http-equiv": lambda v: (v or "").lower() == "content-language"})
        code = meta.get("content") if isinstance(meta, Tag) else None
    try:
        return normalise_language(code if isinstance(code, str) else None)
    except ValueError as exc:
        raise invalid(source, str(exc), where="<html lang>") from exc


def parse_html(data: bytes, *, source: str, title: str) -> ParsedDocument:
    soup = BeautifulSoup(data, "html.parser")
    title_tag = soup.find("title")
    page_title = clean_inline(title_tag.get_text(" ", strip=True)) if isinstance(title_tag, Tag) else ""
    language = _language(soup, source)
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(None, {"role": "navigation"}):
        tag.decompose()
    walker = _Walker()
    body = soup.find("body")
    walker.walk(body if isinstance(body, Tag) else soup)
    walker.end_section()
    return ParsedDocument(
        source=source,
        title=page_title or walker.first_h1 or title,
        kind="html",
        sections=tuple(walker.sections),
        language=language,
    )
