"""Loader for UMSAB (XLM-T multilingual tweet sentiment) in its own on-disk format.

Layout: ``root/<language folder>/{split}_text.txt`` and ``{split}_labels.txt``, one item a line,
labels ``0`` negative, ``1`` neutral, ``2`` positive. Any split whose two files exist loads
(``train``, ``val``, and the held-out ``test`` when it is made available), so the same code
evaluates every split.

The English files carry some characters as literal JSON escapes (``\\u2019`` for ’, ``\\u002c``
for a comma), left over from the SemEval export; they are decoded so rows hold the tweet as
written, like the other languages' files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: UMSAB folder name -> ISO 639-1 code, for the languages Relais supports.
UMSAB_LANGUAGES: dict[str, str] = {
    "english": "en",
    "french": "fr",
    "spanish": "es",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
}

#: Label index -> name, as UMSAB numbers them.
LABEL_NAMES: tuple[str, str, str] = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class UmsabRow:
    """One labelled message: ``label`` is 0 negative, 1 neutral, 2 positive; ``language`` an ISO code."""

    text: str
    label: int
    language: str


def _language_folders(languages: Iterable[str] | None) -> list[tuple[str, str]]:
    """(folder, code) pairs for the requested languages, given as codes or folder names."""
    if languages is None:
        return list(UMSAB_LANGUAGES.items())
    by_code = {code: folder for folder, code in UMSAB_LANGUAGES.items()}
    pairs = []
    for lang in languages:
        if lang in by_code:
            pairs.append((by_code[lang], lang))
        elif lang in UMSAB_LANGUAGES:
            pairs.append((lang, UMSAB_LANGUAGES[lang]))
        else:
            raise ValueError(f"unknown UMSAB language {lang!r}: use one of {sorted(by_code)}")
    return pairs


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _read_lines(path: Path) -> list[str]:
    # splitlines() would also split on U+2028 and friends, which tweets contain; split on \n only
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def load_umsab(root: Path, split: str, languages: Iterable[str] | None = None) -> list[UmsabRow]:
    """Read ``split`` for ``languages`` (ISO codes or UMSAB folder names; all six when ``None``).

    Rows come grouped by language in the order asked, file order inside a language.

    Raises:
        FileNotFoundError: a language folder lacks ``{split}_text.txt`` or ``{split}_labels.txt``.
        ValueError: unknown language, text/label counts differ, or a label is not 0, 1 or 2.
    """
    rows: list[UmsabRow] = []
    for folder, code in _language_folders(languages):
        text_path = Path(root) / folder / f"{split}_text.txt"
        label_path = Path(root) / folder / f"{split}_labels.txt"
        for path in (text_path, label_path):
            if not path.is_file():
                raise FileNotFoundError(f"UMSAB split {split!r} is missing {path}")
        texts = _read_lines(text_path)
        labels = _read_lines(label_path)
        if len(texts) != len(labels):
            raise ValueError(f"{text_path} has {len(texts)} lines but {label_path} has {len(labels)}")
        for line_no, (text, raw_label) in enumerate(zip(texts, labels, strict=True), start=1):
            label = raw_label.strip()
            if label not in {"0", "1", "2"}:
                raise ValueError(f"{label_path}:{line_no}: label {raw_label!r} is not 0, 1 or 2")
            rows.append(UmsabRow(text=_unescape(text), label=int(label), language=code))
    return rows
