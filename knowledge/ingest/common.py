"""Helpers the parsers share: strict decoding, language codes, tags, whitespace, typed errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from core.errors import ValidationFailed

_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_TAG_SPLIT = re.compile(r"[;,|]")


def invalid(source: str, message: str, *, where: str | None = None, **context: Any) -> ValidationFailed:
    """A ``ValidationFailed`` naming the file, the place in it (``row 7``) and what is wrong.

    ``errors`` carries the same facts as fields so the API can return them as a problem document.
    """
    detail = f"{source}: {where}: {message}" if where else f"{source}: {message}"
    return ValidationFailed(detail, errors=[{"file": source, "where": where, "message": message, **context}])


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 (a BOM is allowed); anything else is rejected rather than guessed."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid(source, f"not UTF-8 text (byte 0x{data[exc.start]:02x})", where=f"byte {exc.start}") from exc


def normalise_language(code: str | None) -> str | None:
    """``"fr-FR"`` -> ``"fr"``; ``None``/blank -> ``None``; raises ``ValueError`` when malformed."""
    if code is None or not str(code).strip():
        return None
    match = _LANG.match(str(code).strip())
    if not match:
        raise ValueError(f"invalid language code {code!r} (expected e.g. 'en' or 'fr-FR')")
    return match.group(1).lower()


def split_tags(value: str | Iterable[Any] | None) -> tuple[str, ...]:
    """Tags from ``"a; b"``, ``"a,b"``, ``"a|b"`` or a list, lower-cased, de-duplicated, in order."""
    if value is None:
        return ()
    items = _TAG_SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    seen: dict[str, None] = {}
    for item in items:
        tag = item.strip().lower()
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def clean_inline(text: str) -> str:
    """Collapse runs of spaces inside a line; keep line breaks."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its inner whitespace collapsed."""
    return [p for p in (clean_inline(block) for block in _BLANK_LINES.split(text)) if p]
