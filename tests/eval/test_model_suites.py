"""Sentiment and language suites on a small UMSAB-style folder written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from eval.model_suites import language, sentiment
from eval.runner import RunOptions, SuiteSkipped

ROWS = {
    "english": (["I love this shop, thank you so much!", "This is the worst delivery ever, I am furious",
                 "The parcel arrives on Tuesday"], ["2", "0", "1"]),
    "french": (["J'adore cette boutique, merci beaucoup !", "Livraison catastrophique, je suis furieux",
                "Le colis arrive mardi matin"], ["2", "0", "1"]),
}


@pytest.fixture
def umsab(tmp_path: Path) -> Path:
    for folder, (texts, labels) in ROWS.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "test_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        (tmp_path / folder / "test_labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return tmp_path


def options(tmp_path: Path, data: Path, split: str = "test") -> RunOptions:
    return RunOptions(settings=Settings.model_validate({"data_dir": tmp_path / "data"}), data=data, split=split)


def test_sentiment_per_language(umsab: Path, tmp_path: Path) -> None:
    report = sentiment(options(tmp_path, umsab))
    assert report.summary["n"] == 6
    assert {"accuracy_en", "accuracy_fr", "macro_f1"} <= set(report.summary)
    assert report.summary["accuracy"] >= 0.5  # clear-cut sentences
    assert "[test]" in report.data


def test_language_by_length(umsab: Path, tmp_path: Path) -> None:
    report = language(options(tmp_path, umsab))
    by_length = report.metrics["by_length"]
    assert by_length["4+ words"]["n"] == 6  # the UMSAB rows; the short replies are 1-3 words
    assert by_length["1-3 words"]["n"] == 120
    assert report.summary["accuracy_4plus_words"] == 1.0


def test_missing_split_or_folder(umsab: Path, tmp_path: Path) -> None:
    with pytest.raises(SuiteSkipped, match="split 'val'"):
        sentiment(options(tmp_path, umsab, split="val"))
    with pytest.raises(SuiteSkipped):
        language(options(tmp_path, tmp_path / "nowhere"))
