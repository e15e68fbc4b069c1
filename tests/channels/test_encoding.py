"""GSM-7 / UCS-2 detection, segment counting and splitting, smart encoding."""

from __future__ import annotations

import itertools
import random

import pytest

from channels.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    analyze,
    char_units,
    count_units,
    detect_encoding,
    gsm7_decode,
    gsm7_encode,
    gsm7_lookalikes,
    gsm7_segments,
    is_gsm7,
    smart_encode,
    split_segments,
)

GSM_CHARS = [c for c in GSM7_BASIC if c != "\x1b"] + list(GSM7_EXTENSION)
OTHER_CHARS = ["é", "ç", "Ж", "中", "😀", "👍🏽", "\u2019", "ı"]


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [(0, 1, 160, 160), (1, 1, 160, 159), (160, 1, 160, 0), (161, 2, 153, 145), (306, 2, 153, 0), (307, 3, 153, 152)],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    info = analyze("a" * length)
    assert (info.encoding, info.segments, info.per_segment, info.remaining_in_segment) == (
        "GSM-7",
        segments,
        per_segment,
        remaining,
    )
    assert info.characters == info.units == length


@pytest.mark.parametrize(("length", "segments", "remaining"), [(70, 1, 0), (71, 2, 63), (134, 2, 0), (135, 3, 66)])
def test_ucs2_boundaries(length: int, segments: int, remaining: int) -> None:
    info = analyze("Ж" * length)
    assert (info.encoding, info.segments, info.remaining_in_segment) == ("UCS-2", segments, remaining)


def test_extension_characters_cost_two_septets() -> None:
    info = analyze("€" * 80)
    assert (info.encoding, info.characters, info.units, info.segments) == ("GSM-7", 80, 160, 1)
    assert analyze("€" * 80 + "a").segments == 2
    assert count_units("[]{}", "GSM-7") == 8


def test_emoji_count_utf16_units() -> None:
    info = analyze("😀" * 35)
    assert (info.encoding, info.characters, info.units, info.segments) == ("UCS-2", 35, 70, 1)
    assert analyze("😀" * 36).segments == 2


def test_one_accent_outside_gsm_forces_ucs2() -> None:
    assert detect_encoding("Café") == "GSM-7"  # é is in the GSM basic table
    assert detect_encoding("Ça va, où êtes-vous ?") == "UCS-2"  # ê is not
    assert not is_gsm7("\x1b")  # the escape code is not a character


def test_split_never_cuts_pairs_and_respects_capacity() -> None:
    rng = random.Random(7)
    for _ in range(300):
        pool = GSM_CHARS if rng.random() < 0.5 else GSM_CHARS + OTHER_CHARS
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 700)))
        encoding = detect_encoding(text)
        parts = split_segments(text, encoding)
        assert "".join(parts) == text
        info = analyze(text)
        assert info.segments == len(parts)
        limit = (160 if encoding == "GSM-7" else 70) if len(parts) == 1 else (153 if encoding == "GSM-7" else 67)
        for part in parts:
            assert count_units(part, encoding) <= limit
            if encoding == "UCS-2":
                part.encode("utf-16-be")  # a lone surrogate would raise
        if len(parts) > 1:  # greedy: no part could have taken the next character
            for part, following in itertools.pairwise(parts):
                assert count_units(part + following[0], encoding) > limit


def test_smart_encoding_replaces_typography_when_it_makes_gsm() -> None:
    text = "It’s “great” — see you at 10\u00a0am… ‘ok’ – bye"
    assert smart_encode(text) == "It's \"great\" - see you at 10 am... 'ok' - bye"
    assert analyze(smart_encode(text)).encoding == "GSM-7"
    assert analyze(text).encoding == "UCS-2"


def test_smart_encoding_leaves_texts_that_stay_unicode() -> None:
    text = "“Привет” — 😀"
    assert smart_encode(text) == text
    assert smart_encode("plain") == "plain"


def test_gsm7_round_trip_and_errors() -> None:
    text = "".join(GSM_CHARS)
    data = gsm7_encode(text)
    assert len(data) == count_units(text, "GSM-7")
    assert all(b < 0x80 for b in data)
    assert gsm7_decode(data) == text
    assert gsm7_encode("€") == b"\x1b\x65"
    with pytest.raises(ValueError, match="not in the GSM-7"):
        gsm7_encode("ж")
    assert gsm7_decode(b"\x1b\x01") == " "


def test_counting_by_str_methods_agrees_with_the_per_character_rule() -> None:
    """``count_units`` and ``is_gsm7`` count with str methods; the rule stays ``char_units`` per character."""
    rng = random.Random(11)
    alphabet = GSM_CHARS + OTHER_CHARS + ["\ud83d", "\U0001f600", "\x00"]  # a lone surrogate, a NUL
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        gsm = all(ch in GSM_CHARS for ch in text)
        assert is_gsm7(text) is gsm
        for encoding in ("GSM-7", "UCS-2"):
            assert count_units(text, encoding) == sum(char_units(ch, encoding) for ch in text)
        info = analyze(text)
        parts = split_segments(text)
        assert (info.segments, info.units) == (len(parts), count_units(text, info.encoding))
        assert info.remaining_in_segment == info.per_segment - count_units(parts[-1], info.encoding)


def test_a_text_is_measured_once() -> None:
    """A bot reply is measured when composed, stored and sent: the second time is the first's value."""
    reply = "Livraison offerte dès 60 € d'achat en France métropolitaine."
    assert analyze(reply) is analyze(reply[:10] + reply[10:])


def test_lookalikes_drop_a_capital_s_accent_and_typography_only_when_that_makes_gsm7() -> None:
    assert gsm7_lookalikes("À très vite ! C’est Noel.", "fr") == "A très vite ! C'est Noel."
    assert gsm7_lookalikes("Última oportunidad", "es") == "Ultima oportunidad"
    assert gsm7_lookalikes("È il momento giusto", "it") == "E' il momento giusto"  # "E" would read "and"
    # a lower-case accent tells words apart (sûr/sur): the text stays as written, capitals included
    assert gsm7_lookalikes("À bientôt, c’est sûr", "fr") == "À bientôt, c’est sûr"
    assert gsm7_lookalikes("plain", "fr") == "plain"


def test_gsm7_segments_say_what_the_characters_outside_gsm7_cost() -> None:
    text = "À" + "a" * 100
    assert (analyze(text).segments, gsm7_segments(text)) == (2, 1)
    assert gsm7_segments("😀" + "a" * 150) == 1  # no look-alike: counted as one septet
    assert gsm7_segments("a" * 161) == analyze("a" * 161).segments == 2
