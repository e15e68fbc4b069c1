"""Markdown (CommonMark + tables) with optional YAML front matter.

Front matter keys used: ``title``, ``language``/``lang``, ``tags``. Every block keeps the path of
headings above it (``("Shipping", "Returns")``); inline markup is reduced to its text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from knowledge.ingest.common import clean_inline, decode_text, invalid, normalise_language, split_tags
from knowledge.types import ParsedDocument, Section

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD = MarkdownIt("commonmark").enable("table")


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # alt text
    return clean_inline("".join(parts))


class _NoAliases(yaml.SafeLoader):
    """YAML without aliases (``*name``): front matter needs none, and ten nested lists of ten aliases each are
    10**10 strings once written out: a 500-byte file's ``title: *a7`` took 330 MB when its title was read, and
    two levels more would take the process's memory."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


def _front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.load(match.group(1), Loader=_NoAliases) or {}  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"front matter line {mark.line + 2}" if mark is not None else "front matter"
        raise invalid(source, f"invalid YAML: {getattr(exc, 'problem', exc)}", where=where) from exc
    if not isinstance(meta, dict):
        raise invalid(source, "front matter must be a mapping of keys to values", where="front matter")
    return meta, text[match.end() :]


class _SectionBuilder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.blocks: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))

    def add(self, text: str) -> None:
        if text:
            self.blocks.append(text)

    def flush(self) -> None:
        if self.blocks:
            headings = tuple(h for _, h in self.stack if h)
            self.sections.append(Section(headings=headings, text="\n\n".join(self.blocks)))
        self.blocks = []


def parse_markdown(data: bytes, *, source: str, title: str) -> ParsedDocument:
    meta, body = _front_matter(decode_text(data, source), source)
    try:
        language = normalise_language(meta.get("language") or meta.get("lang"))
    except ValueError as exc:
        raise invalid(source, str(exc), where="front matter") from exc
    tokens = _MD.parse(body)
    builder = _SectionBuilder()
    first_h1: str | None = None
    row: list[str] | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            text = _inline_text(tokens[i + 1])
            level = int(tok.tag[1])
            if level == 1 and first_h1 is None:
                first_h1 = text
            builder.heading(level, text)
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and row is not None:
            builder.add(" | ".join(cell for cell in row if cell))
            row = None
        elif tok.type == "inline":
            if i > 0 and tokens[i - 1].type == "heading_open":
                continue
            if row is not None:
                row.append(_inline_text(tok))
            else:
                builder.add(_inline_text(tok))
        elif tok.type in ("fence", "code_block"):
            builder.add(tok.content.strip("\n"))
    builder.flush()
    return ParsedDocument(
        source=source,
        title=str(meta.get("title") or first_h1 or title),
        kind="markdown",
        sections=tuple(builder.sections),
        language=language,
        tags=split_tags(meta.get("tags")),
    )
