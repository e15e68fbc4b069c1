"""Folding written words: the one comparison keywords, imports, country names and searches share."""

from __future__ import annotations

import pytest

from core.text import fold_words, strip_accents


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        (" Arrêt!! ", "arret"),
        ("États-Unis", "etats unis"),
        ("Numéro de Téléphone", "numero de telephone"),
        ("S'abonner", "s abonner"),
        ("Straße", "strasse"),
        ("N° portable", "n portable"),
        ("Ｔéléphone", "telephone"),
        ("---", ""),
    ],
)
def test_fold_words_drops_case_accents_and_punctuation(written: str, folded: str) -> None:
    assert fold_words(written) == folded


def test_strip_accents_keeps_case_and_punctuation() -> None:
    assert strip_accents("Crème brûlée, s'il vous plaît!") == "Creme brulee, s'il vous plait!"
    assert strip_accents("ﬁn") == "fin"
