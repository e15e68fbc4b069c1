"""GSM-7 / UCS-2 detection, segment counting and splitting, and optional smart encoding.

Rules (3GPP TS 23.038 / 23.040):

* A text made only of GSM 03.38 basic-table characters and extension-table characters is sent in
  GSM-7; an extension character (``^{}\\[~]|€`` and form feed) costs two septets (escape + char).
* Anything else forces UCS-2 for the whole message; units are UTF-16 code units, so an emoji
  outside the BMP costs two.
* One segment holds 160 septets (GSM-7) or 70 units (UCS-2). A longer message is split into
  segments of 153 / 67 because each carries a 6-byte concatenation header. A split never cuts an
  escape pair or a surrogate pair, so a segment may hold one unit fewer than the maximum.

:func:`split_segments` is the single splitter: segment counts shown to users and the parts the
SMPP adapter submits come from the same code. :func:`smart_encode` (typography) and
:func:`gsm7_lookalikes` (typography and accented capitals, for machine-written text) keep a text in
GSM-7 where a faithful look-alike exists; :func:`gsm7_segments` says what the rest costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from channels.base import Encoding

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_ESCAPE = 0x1B
# The escape code itself is not a character a message may contain.
_BASIC_INDEX = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != _ESCAPE}
_EXTENSION_BY_CODE = {code: ch for ch, code in GSM7_EXTENSION.items()}
_GSM7_CHARACTERS = frozenset(_BASIC_INDEX) | frozenset(GSM7_EXTENSION)

SINGLE_SEGMENT: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
MULTI_SEGMENT: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}

# Typographic characters with a faithful GSM-7 look-alike.
SMART_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u02bc": "'",
    "\u2039": "'",
    "\u203a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u200b": "",
    "\ufeff": "",
    "\u00ad": "",
    "\u2022": "-",
    "\u00b7": ".",
    "\u02c6": "^",
    "\u02dc": "~",
}

#: Capital letters whose accent GSM-7 lacks, written without it (À → A): French, Spanish and
#: Portuguese texts commonly drop a capital's accent (typewriters and many keyboards had none), and a
#: capital starts a sentence or a name, where the accent rarely tells two words apart. Lower-case
#: accents are not in this set: they do tell words apart (French sûr/sur, Spanish más/mas, Portuguese
#: está/esta), so a text that needs one stays UCS-2 and the brand check says what it costs.
ACCENTED_CAPITALS: dict[str, str] = {
    **dict.fromkeys("ÀÁÂÃ", "A"), **dict.fromkeys("ÈÊË", "E"), **dict.fromkeys("ÌÍÎÏ", "I"),
    **dict.fromkeys("ÒÓÔÕ", "O"), **dict.fromkeys("ÙÚÛ", "U"), **dict.fromkeys("ÝŸ", "Y"),
}
#: Where the plain capital would change the word: Italian "È" (is) is not "E" (and); Italians type
#: "E'" on a keyboard without È.
LANGUAGE_LOOKALIKES: dict[str, dict[str, str]] = {"it": {"È": "E'"}}


@dataclass(frozen=True)
class EncodingInfo:
    """How a text will travel.

    ``characters`` counts code points, ``units`` septets (GSM-7) or UTF-16 units (UCS-2);
    ``per_segment`` is the capacity of one segment for this message (160/70 when it fits in one,
    else 153/67) and ``remaining_in_segment`` what still fits in the last segment.
    """

    encoding: Encoding
    segments: int
    characters: int
    units: int
    per_segment: int
    remaining_in_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 03.38 basic or extension table."""
    return _GSM7_CHARACTERS.issuperset(text)


def ucs2_characters(text: str) -> list[str]:
    """The distinct characters of ``text`` outside the GSM-7 alphabet (those forcing UCS-2), in order of appearance."""
    return list(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))


def detect_encoding(text: str) -> Encoding:
    """``GSM-7`` when the text fits the GSM alphabet, else ``UCS-2``."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def char_units(ch: str, encoding: Encoding) -> int:
    """Units one character costs: 2 for GSM-7 extension characters and non-BMP UCS-2 characters."""
    if encoding == "GSM-7":
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def count_units(text: str, encoding: Encoding) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) needed for ``text``: :func:`char_units` summed,
    counted by str methods rather than character by character (every text in and out is counted)."""
    if encoding == "GSM-7":
        return len(text) + sum(text.count(ch) for ch in GSM7_EXTENSION)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_segments(text: str, encoding: Encoding | None = None) -> list[str]:
    """Split ``text`` into the parts a provider sends, never cutting an escape or surrogate pair.

    Returns ``[text]`` when it fits one segment (including the empty text).
    """
    enc = encoding or detect_encoding(text)
    if count_units(text, enc) <= SINGLE_SEGMENT[enc]:
        return [text]
    capacity = MULTI_SEGMENT[enc]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = char_units(ch, enc)
        if used + cost > capacity:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=2048)
def analyze(text: str) -> EncodingInfo:
    """Encoding, segment count and remaining room for ``text`` as it will be sent.

    Kept for the last texts asked about: a bot reply is measured when it is composed, stored and
    sent, each time the same (the value is frozen).
    """
    enc = detect_encoding(text)
    units = count_units(text, enc)
    if units <= SINGLE_SEGMENT[enc]:
        return EncodingInfo(encoding=enc, segments=1, characters=len(text), units=units,
                            per_segment=SINGLE_SEGMENT[enc], remaining_in_segment=SINGLE_SEGMENT[enc] - units)
    parts = split_segments(text, enc)
    return EncodingInfo(
        encoding=enc,
        segments=len(parts),
        characters=len(text),
        units=units,
        per_segment=MULTI_SEGMENT[enc],
        remaining_in_segment=MULTI_SEGMENT[enc] - count_units(parts[-1], enc),
    )


def smart_encode(text: str) -> str:
    """Replace typographic characters (curly quotes, dashes, ellipsis, odd spaces) by GSM ones.

    The replacement is only kept when it makes the whole text GSM-7: a text that needs UCS-2 anyway
    (emoji, Cyrillic...) is returned untouched, since changing it would save nothing.
    """
    if is_gsm7(text):
        return text
    replaced = "".join(SMART_REPLACEMENTS.get(ch, ch) for ch in text)
    return replaced if is_gsm7(replaced) else text


def lookalike(ch: str, language: str = "") -> str | None:
    """The GSM-7 look-alike of one character (:data:`SMART_REPLACEMENTS`, :data:`ACCENTED_CAPITALS`,
    ``language``'s own in :data:`LANGUAGE_LOOKALIKES`), or None when it has none."""
    own = LANGUAGE_LOOKALIKES.get(language, {})
    return own.get(ch, SMART_REPLACEMENTS.get(ch, ACCENTED_CAPITALS.get(ch)))


def gsm7_lookalikes(text: str, language: str = "") -> str:
    """``text`` with its look-alikes (:func:`lookalike`) in place when that makes it GSM-7, else untouched.

    For machine-written text (an LLM's): what a person typed is theirs to change. As with
    :func:`smart_encode`, a text that stays UCS-2 anyway keeps its characters, since replacing some
    would save nothing.
    """
    if is_gsm7(text):
        return text
    replaced = "".join(found if (found := lookalike(ch, language)) is not None else ch for ch in text)
    return replaced if is_gsm7(replaced) else text


def gsm7_segments(text: str, language: str = "") -> int:
    """Segments ``text`` would take in GSM-7: each character outside it as its look-alike, or as one
    septet when it has none (an emoji). Beside :func:`analyze`'s count, what those characters cost."""
    if is_gsm7(text):
        return analyze(text).segments
    return analyze("".join(ch if is_gsm7(ch) else lookalike(ch, language) or "?" for ch in text)).segments


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM-7 (one septet per byte, extension characters as ``0x1B`` + code), as SMPP sends
    with ``data_coding=0``.

    Raises:
        ValueError: ``text`` has a character outside the GSM alphabet.
    """
    out = bytearray()
    for ch in text:
        if ch in _BASIC_INDEX:
            out.append(_BASIC_INDEX[ch])
        elif ch in GSM7_EXTENSION:
            out += bytes((_ESCAPE, GSM7_EXTENSION[ch]))
        else:
            raise ValueError(f"character {ch!r} is not in the GSM-7 alphabet")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Decode unpacked GSM-7; unknown extension codes decode as a space, as handsets show them."""
    out: list[str] = []
    escaped = False
    for byte in data:
        code = byte & 0x7F
        if escaped:
            out.append(_EXTENSION_BY_CODE.get(code, " "))
            escaped = False
        elif code == _ESCAPE:
            escaped = True
        else:
            out.append(GSM7_BASIC[code])
    return "".join(out)
