"""FAQ files: CSV with a header row, or JSON; fields ``question, answer, language, tags``.

Each entry becomes one chunk. Any malformed row rejects the whole file (nothing is ingested), with
the row named: CSV rows by the line they start on (the header is line 1), JSON entries by their
1-based index. JSON is a list of entries or an object with an ``entries``/``faq`` list and optional
document-level ``title``, ``language`` and ``tags``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from core import json_input
from knowledge.ingest.common import decode_text, invalid, normalise_language, split_tags
from knowledge.types import FaqEntry, ParsedDocument

_COLUMNS = {"question": "question", "answer": "answer", "language": "language", "lang": "language",
            "tags": "tags"}  # fmt: skip


def _entry(fields: dict[str, Any], *, source: str, where: str, row: int) -> FaqEntry:
    values: dict[str, str] = {}
    for key in ("question", "answer"):
        value = fields.get(key)
        if not isinstance(value, str) or not value.strip():
            raise invalid(source, f"{key} is missing or empty", where=where, row=row, field=key)
        values[key] = value.strip()
    language = fields.get("language")
    if language is not None and not isinstance(language, str):
        raise invalid(source, "language must be a string", where=where, row=row, field="language")
    try:
        lang = normalise_language(language)
    except ValueError as exc:
        raise invalid(source, str(exc), where=where, row=row, field="language") from exc
    tags = fields.get("tags")
    if tags is not None and not isinstance(tags, str | list):
        raise invalid(source, "tags must be a string or a list", where=where, row=row, field="tags")
    return FaqEntry(values["question"], values["answer"], row=row, language=lang, tags=split_tags(tags))


def parse_faq_csv(data: bytes, *, source: str, title: str) -> ParsedDocument:
    text = decode_text(data, source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise invalid(source, "the file is empty", where="line 1")
        names = [h.strip().lower() for h in header]
        missing = [c for c in ("question", "answer") if c not in names]
        if missing:
            raise invalid(source, f"missing column(s) {', '.join(missing)} in the header", where="line 1")
        duplicated = sorted({n for n in names if n and names.count(n) > 1})
        if duplicated:
            raise invalid(source, f"duplicated column(s) {', '.join(duplicated)}", where="line 1")
        entries: list[FaqEntry] = []
        start = reader.line_num + 1
        for record in reader:
            where = f"row {start}"
            if any(cell.strip() for cell in record):
                if len(record) != len(names):
                    raise invalid(source, f"expected {len(names)} fields, found {len(record)}", where=where, row=start)
                fields = {_COLUMNS[n]: v for n, v in zip(names, record, strict=True) if n in _COLUMNS}
                entries.append(_entry(fields, source=source, where=where, row=start))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise invalid(source, f"malformed CSV: {exc}", where=f"row {reader.line_num}", row=reader.line_num) from exc
    if not entries:
        raise invalid(source, "no FAQ entries")
    return ParsedDocument(source=source, title=title, kind="faq", faq=tuple(entries))


def parse_faq_json(data: bytes, *, source: str, title: str) -> ParsedDocument:
    try:
        doc = json_input.loads(decode_text(data, source))
    except json.JSONDecodeError as exc:
        raise invalid(source, f"invalid JSON: {exc.msg}", where=f"line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # nested too deeply, or a number of more than 4,300 digits: both answered 500
        raise invalid(source, f"invalid JSON: {exc}") from None
    meta: dict[str, Any] = {}
    if isinstance(doc, dict):
        meta = doc
        doc = doc.get("entries", doc.get("faq"))
    if not isinstance(doc, list):
        raise invalid(source, "expected a list of entries or an object with an 'entries' list")
    entries: list[FaqEntry] = []
    for index, item in enumerate(doc, start=1):
        where = f"entry {index}"
        if not isinstance(item, dict):
            raise invalid(source, "an entry must be an object", where=where, row=index)
        fields = {_COLUMNS[k.lower()]: v for k, v in item.items() if k.lower() in _COLUMNS}
        entries.append(_entry(fields, source=source, where=where, row=index))
    if not entries:
        raise invalid(source, "no FAQ entries")
    try:
        language = normalise_language(meta.get("language"))
    except (ValueError, AttributeError) as exc:
        raise invalid(source, f"document language: {exc}") from exc
    return ParsedDocument(
        source=source,
        title=str(meta.get("title") or title),
        kind="faq",
        faq=tuple(entries),
        language=language,
        tags=split_tags(meta.get("tags")),
    )
