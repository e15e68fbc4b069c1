"""The head's calibration, threshold tuning and cross-validation folds, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from agent.intent import TrainingConfig, parse_spec, train_on_vectors
from agent.intent.embedding import ConcatEmbedder
from agent.intent.head import fit_head, fit_temperature, softmax, tune_threshold
from agent.intent.trainer import stratified_folds
from knowledge.embeddings import Embedder


def test_temperature_scaling_recovers_the_temperature_that_generated_labels() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 5))
    true_t = 2.5
    probs = softmax(logits / true_t)
    targets = np.array([rng.choice(5, p=row) for row in probs])
    assert fit_temperature(logits, targets) == pytest.approx(true_t, rel=0.1)


def test_threshold_balances_accuracy_and_oos_recall_within_the_rejection_budget() -> None:
    in_conf = np.linspace(0.5, 1.0, 100)
    in_correct = np.ones(100, dtype=bool)
    oos_conf = np.linspace(0.3, 0.54, 50)  # overlaps the in-scope low end, denser than it
    choice = tune_threshold(
        in_conf, in_correct, oos_conf, np.zeros(50, dtype=bool), max_in_scope_rejection=0.05, oos_weight=1.0
    )
    # rejecting in-scope pays off here, but only up to 5 of 100 right answers
    assert 0.5 < choice.threshold <= in_conf[5] and 0 < choice.in_scope_rejected <= 0.05
    assert choice.oos_recall is not None and choice.oos_recall > 0.9
    assert choice.in_scope_accuracy == pytest.approx(1.0 - choice.in_scope_rejected)


def test_threshold_without_oos_data_rejects_at_most_the_budget() -> None:
    in_conf = np.linspace(0.01, 1.0, 200)
    correct = np.arange(200) % 4 != 0
    choice = tune_threshold(
        in_conf, correct, np.zeros(0), np.zeros(0, dtype=bool), max_in_scope_rejection=0.03, oos_weight=1.0
    )
    assert choice.oos_recall is None
    assert 0.0 < choice.in_scope_rejected <= 0.03
    assert choice.in_scope_accuracy == pytest.approx(correct.mean() - choice.in_scope_rejected)


def test_folds_keep_every_class_in_every_training_part() -> None:
    targets = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    folds = stratified_folds(targets, 3, seed=0)
    for fold in range(3):
        assert set(targets[folds != fold]) == {0, 1, 2}
    assert np.array_equal(folds, stratified_folds(targets, 3, seed=0))


def test_two_class_head_is_a_proper_softmax() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(-1, 0.3, size=(20, 4)), rng.normal(1, 0.3, size=(20, 4))])
    y = np.repeat([0, 1], 20)
    head = fit_head(x, y, ("no", "yes"), c=1.0)
    proba = head.proba(x)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y).mean() == 1.0
    with pytest.raises(ValueError, match="no training example"):
        fit_head(x[:20], y[:20], ("no", "yes"), c=1.0)


def test_out_of_scope_examples_repeating_an_intent_example_are_dropped() -> None:
    rng = np.random.default_rng(2)
    centres = np.eye(3, 8)
    vectors = np.repeat(centres[:2], 6, axis=0) + 0.01 * rng.normal(size=(12, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    oos = np.vstack([np.repeat(centres[2:], 5, axis=0), vectors[:1]])  # the last one repeats intent "a"
    spec = parse_spec({"intents": [{"name": "a", "examples": ["a1", "a2"]}, {"name": "b", "examples": ["b1", "b2"]}]})
    model = train_on_vectors(spec, "test", vectors.astype(np.float32), ["a"] * 6 + ["b"] * 6, oos.astype(np.float32))
    assert model.metrics["n_oos_dropped"] == 1 and model.metrics["n_oos_examples"] == 5
    assert model.predict_embeddings(vectors[:1])[0].intent == "a"
    assert model.predict_embeddings(centres[2:])[0].intent is None
    with pytest.raises(ValueError, match="labels not in the spec"):
        train_on_vectors(spec, "test", vectors, ["a"] * 6 + ["c"] * 6, oos, TrainingConfig())


class Fixed(Embedder):
    def __init__(self, name: str, row: list[float]) -> None:
        self.name, self.dim, self._row = name, len(row), np.array(row, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        return np.tile(self._row, (len(texts), 1))


def test_concatenated_embeddings_stay_unit_length() -> None:
    both = ConcatEmbedder([Fixed("x", [1.0, 0.0]), Fixed("y", [0.0, 0.6, 0.8])])
    rows = both.embed(["one", "two"])
    assert both.name == "x+y" and both.dim == 5 and rows.shape == (2, 5)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
