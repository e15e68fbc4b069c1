"""Counts in words: the noun agrees with the number (core.words.counted)."""

from __future__ import annotations

from core.words import counted


def test_one_takes_the_singular_and_every_other_count_the_plural() -> None:
    assert counted(1, "rejected row") == "1 rejected row"
    assert counted(0, "rejected row") == "0 rejected rows"
    assert counted(2, "row has", "rows have") == "2 rows have"
    assert counted(1, "row has", "rows have") == "1 row has"
    assert counted(12_500, "row") == "12,500 rows"
    assert counted(3.0, "segment") == "3 segments"
