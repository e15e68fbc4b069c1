"""Sentiment and language suites on a small UMSAB-style folder written by the test; the keyword suite
on the compliance layer of a fresh deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from eval.cases import load_cases, unseen_share
from eval.model_suites import keywords, language, sentiment
from eval.paths import SUITES_DIR
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


def test_keyword_suite_opt_outs_are_mostly_unseen_in_every_language() -> None:
    cases = load_cases(SUITES_DIR / "keywords.yaml")
    share = unseen_share(cases)
    assert share is not None and share >= 0.5  # issue 12.7: at least half no table or example holds
    unseen_languages = {tag for c in cases if c.is_opt_out and c.seen is False for tag in c.tags}
    assert {"en", "fr", "es", "de", "it", "pt"} <= unseen_languages


KEYWORD_CASES = """
cases:
  - {id: table-stop, text: "ARRET", expect: {decision: opt_out}, tags: [fr]}
  - {id: nl-cease, text: "Please cease all messages to this number", expect: {decision_in: [opt_out, confirm_opt_out]}}
  - {id: nl-de, text: "Bitte schicken Sie mir keine SMS mehr", expect: {decision_in: [opt_out, confirm_opt_out]}}
  - {id: harmless, text: "Where is my order?", expect: {decision: none}}
  - {id: help, text: "AIDE", expect: {decision: help}}
"""


def test_keyword_suite_measures_the_builtin_intents_too(tmp_path: Path) -> None:
    """A natural-language opt-out is caught on a fresh deployment (built-in intents), not only STOP."""
    data = tmp_path / "cases.yaml"
    data.write_text(KEYWORD_CASES, encoding="utf-8")
    report = keywords(options(tmp_path, data))
    summary = report.summary
    assert summary["opt_out_recall"] == 1.0  # the table's word
    assert summary["opt_out_handled_unseen"] == 1.0, report.failures  # no table holds these phrasings
    assert summary["unseen_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["false_opt_out_rate"] == 0.0
    assert summary["accuracy"] == 1.0, report.failures
