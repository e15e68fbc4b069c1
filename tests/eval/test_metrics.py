"""Metric functions on hand-computed examples."""

from __future__ import annotations

import pytest

from eval import metrics
from eval.figures import fmt
from eval.groundedness import sentences


def test_classification_per_class_and_confusion() -> None:
    report = metrics.classification(["a", "a", "b", "oos"], ["a", "b", "b", "a"])
    assert report.accuracy == 0.5
    assert report.labels == ["a", "b", "oos"]
    assert report.confusion == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    by = {c.label: c for c in report.per_class}
    assert (by["a"].precision, by["a"].recall) == (0.5, 0.5)
    assert (by["b"].precision, by["b"].recall) == (0.5, 1.0)
    assert by["oos"].f1 == 0.0
    assert report.macro_f1 == round((0.5 + 0.6667 + 0.0) / 3, 4)


def test_classification_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError):
        metrics.classification(["a"], [])


def test_binary_and_in_scope_accuracy() -> None:
    assert metrics.binary([True, True, False, False], [True, False, True, False]) == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "positives": 2}
    # a rejected in-scope item counts as wrong; out-of-scope items are not counted
    assert metrics.in_scope_accuracy(["x", "y", "oos"], ["x", "oos", "oos"]) == 0.5


def test_length_bucket_counts_words_after_cleaning() -> None:
    assert metrics.length_bucket("merci 😊 http://x.fr 123") == "1-3 words"
    assert metrics.length_bucket("where is my order please") == "4+ words"
    by = metrics.accuracy_by_bucket(["en", "fr", "fr"], ["en", "en", "fr"], ["s", "s", "l"])
    assert by == {"l": {"accuracy": 1.0, "n": 1}, "s": {"accuracy": 0.5, "n": 2}}


def test_retrieval_latency_and_facts() -> None:
    assert metrics.retrieval([1, 3, None, 2]) == {"hit@1": 0.25, "hit@3": 0.75, "mrr": round((1 + 1 / 3 + 0.5) / 4, 4)}
    assert metrics.latency([0.01, 0.02, 0.03])["p50_ms"] == 20.0
    found = metrics.fact_coverage("Shipping is 4.90 EUR.", ["4.90", "60 EUR"], ["system prompt"])
    assert found == {"coverage": 0.5, "missing": ["60 EUR"], "leaked": []}


def test_sentences_skip_fragments() -> None:
    assert sentences("OK. Shipping is 4.90 EUR! Free from 60 EUR?\nThanks") == [
        "Shipping is 4.90 EUR!", "Free from 60 EUR?", "Thanks"]


def test_undefined_figures_are_none_never_a_flattering_one() -> None:
    nothing_predicted = metrics.binary([True, False], [False, False])
    assert nothing_predicted == {"precision": None, "recall": 0.0, "f1": None, "positives": 1}
    no_gold = metrics.binary([False, False], [True, False])
    assert no_gold == {"precision": 0.0, "recall": None, "f1": None, "positives": 0}
    assert metrics.share([]) is None and metrics.mean([]) is None
    assert metrics.share([True, False, True]) == 0.6667 and metrics.mean([0.5, 1.0]) == 0.75
    assert fmt(None, "escalation_recall") == "n/a" and fmt(0.25, "escalation_recall") == "25.0 %"
