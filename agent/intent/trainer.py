"""Train an :class:`IntentClassifier` from a spec: embed, cross-validate, calibrate, tune, refit.

1. Every example (and every out-of-scope example) is embedded once.
2. ``folds``-fold cross-validation gives out-of-fold logits for every example; one temperature
   is fitted on them (calibration), then the out-of-scope threshold is tuned on the calibrated
   out-of-fold confidences (see :func:`agent.intent.head.tune_threshold`).
3. The head is refitted on everything and carries that temperature and threshold.

Out-of-scope examples (the spec's ``out_of_scope``, which ``merge_with_builtins`` fills with
the generic pool unless the deployment opts out) are trained as one extra class when there are
at least ``folds`` of them, and always serve to tune the threshold; one that nearly repeats an
intent example (cosine >= ``oos_conflict_similarity``) is dropped first. The out-of-fold figures
are stored as the model's metrics.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from agent.intent.classifier import IntentClassifier
from agent.intent.embedding import resolve_embedder
from agent.intent.head import OOS_CLASS, SoftmaxHead, fit_head, fit_temperature, softmax, tune_threshold
from agent.intent.spec import IntentSpec
from knowledge.embeddings import Embedder

DEFAULT_BACKEND = "use-multilingual"


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs of :func:`train_intents`; the defaults are the ones measured in docs/intents.md."""

    c: float = 10.0  # inverse L2 regularisation of the logistic regression
    folds: int = 3
    seed: int = 0
    oos_class: bool = True  # train out-of-scope examples as a class (else only tune with them)
    max_in_scope_rejection: float = 0.03  # share of right in-scope answers the threshold may drop
    oos_weight: float = 1.0  # weight of OOS recall against in-scope accuracy when tuning
    # an out-of-scope example this close (cosine) to an intent example is dropped: the generic pool's
    # "cancel my order" must not fight a deployment's own "please cancel the order i made"
    oos_conflict_similarity: float = 0.8

    def __post_init__(self) -> None:
        if self.c <= 0:
            raise ValueError("c must be positive")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")
        if not 0 <= self.max_in_scope_rejection < 1:
            raise ValueError("max_in_scope_rejection must be in [0, 1)")


def _fold_ids(targets: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Stratified fold numbers: each class's rows shuffled then dealt round-robin.

    Dealing round-robin means a class with n >= 2 rows keeps at least one row in every training
    part, so every fold's head knows every class.
    """
    ids = np.empty(len(targets), dtype=np.int64)
    rng = random.Random(seed)
    for value in np.unique(targets):
        rows = np.flatnonzero(targets == value).tolist()
        rng.shuffle(rows)
        for position, row in enumerate(rows):
            ids[row] = position % folds
    return ids


def _expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            total += mask.mean() * abs(float(confidence[mask].mean()) - float(correct[mask].mean()))
    return float(total)


def train_on_vectors(
    spec: IntentSpec,
    backend: str,
    vectors: np.ndarray,
    intent_labels: Sequence[str],
    oos_vectors: np.ndarray,
    config: TrainingConfig = TrainingConfig(),
) -> IntentClassifier:
    """Train from precomputed embeddings: ``vectors[i]`` is an example of ``intent_labels[i]``.

    Raises ``ValueError`` when a spec intent has no vector or a label is not in the spec.
    """
    started = time.perf_counter()
    names = tuple(spec.names)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(intent_labels) - set(index))
    if unknown:
        raise ValueError(f"labels not in the spec: {unknown}")
    n_oos_given = len(oos_vectors)
    if n_oos_given and len(vectors):
        oos_vectors = oos_vectors[(oos_vectors @ vectors.T).max(axis=1) < config.oos_conflict_similarity]
    use_oos_class = config.oos_class and len(oos_vectors) >= config.folds
    labels = (*names, OOS_CLASS) if use_oos_class else names
    in_targets = np.array([index[label] for label in intent_labels], dtype=np.int64)
    oos_targets = np.full(len(oos_vectors), len(names), dtype=np.int64)

    in_folds = _fold_ids(in_targets, config.folds, config.seed)
    oos_folds = _fold_ids(oos_targets, config.folds, config.seed + 1)
    in_logits = np.zeros((len(in_targets), len(labels)), dtype=np.float32)
    oos_logits = np.zeros((len(oos_targets), len(labels)), dtype=np.float32)
    for fold in range(config.folds):
        train_x, train_y = vectors[in_folds != fold], in_targets[in_folds != fold]
        if use_oos_class:
            train_x = np.vstack([train_x, oos_vectors[oos_folds != fold]])
            train_y = np.concatenate([train_y, oos_targets[oos_folds != fold]])
        head = fit_head(train_x, train_y, labels, config.c)
        in_logits[in_folds == fold] = head.logits(vectors[in_folds == fold])
        oos_logits[oos_folds == fold] = head.logits(oos_vectors[oos_folds == fold])

    calib_logits, calib_targets = in_logits, in_targets
    if use_oos_class:
        calib_logits = np.vstack([in_logits, oos_logits])
        calib_targets = np.concatenate([in_targets, oos_targets])
    temperature = fit_temperature(calib_logits, calib_targets)

    in_proba = softmax(in_logits / temperature)
    oos_proba = softmax(oos_logits / temperature)
    n = len(names)
    in_conf = in_proba[:, :n].max(axis=1)
    in_best = in_proba[:, :n].argmax(axis=1)
    in_correct = in_best == in_targets
    if use_oos_class:  # an in-scope message the OOS class wins is a rejection: count it wrong
        in_correct &= in_proba[:, n] <= in_conf
        oos_by_class = oos_proba[:, n] > oos_proba[:, :n].max(axis=1)
    else:
        oos_by_class = np.zeros(len(oos_targets), dtype=bool)
    choice = tune_threshold(
        in_conf,
        in_correct,
        oos_proba[:, :n].max(axis=1) if len(oos_targets) else np.zeros(0),
        oos_by_class,
        max_in_scope_rejection=config.max_in_scope_rejection,
        oos_weight=config.oos_weight,
    )

    all_x, all_y = vectors, in_targets
    if use_oos_class:
        all_x, all_y = np.vstack([vectors, oos_vectors]), np.concatenate([in_targets, oos_targets])
    final = fit_head(all_x, all_y, labels, config.c)
    final = SoftmaxHead(labels=labels, weights=final.weights, bias=final.bias, temperature=temperature)
    metrics = {
        "n_intents": n,
        "n_examples": len(in_targets),
        "n_oos_examples": len(oos_targets),
        "n_oos_dropped": n_oos_given - len(oos_targets),
        "oos_class": use_oos_class,
        "temperature": temperature,
        "threshold": choice.threshold,
        "cv_accuracy": float((in_best == in_targets).mean()),
        "cv_in_scope_accuracy": choice.in_scope_accuracy,
        "cv_in_scope_rejected": choice.in_scope_rejected,
        "cv_oos_recall": choice.oos_recall,
        "cv_ece": _expected_calibration_error(in_conf, in_best == in_targets),
        "head_seconds": round(time.perf_counter() - started, 3),
        "config": asdict(config),
    }
    return IntentClassifier(spec=spec, backend=backend, head=final, threshold=choice.threshold, metrics=metrics)


def train_intents(
    spec: IntentSpec,
    *,
    backend: str = DEFAULT_BACKEND,
    config: TrainingConfig = TrainingConfig(),
    embedder: Embedder | None = None,
) -> IntentClassifier:
    """Embed the spec's examples with ``backend`` and train (see the module docstring).

    Pass the deployment spec already merged with the built-ins
    (:func:`agent.intent.spec.merge_with_builtins`) to get the built-in intents. ``embedder``
    overrides the one looked up by ``backend`` (its ``name`` must then be ``backend``).
    """
    started = time.perf_counter()
    embedder = embedder or resolve_embedder(backend)
    texts: list[str] = []
    labels: list[str] = []
    for intent in spec.intents:
        for text in intent.all_examples():
            texts.append(text)
            labels.append(intent.name)
    oos_texts = spec.out_of_scope_examples()
    embedded = embedder.embed(texts + oos_texts)
    embed_seconds = time.perf_counter() - started
    model = train_on_vectors(spec, backend, embedded[: len(texts)], labels, embedded[len(texts) :], config)
    model.metrics["embed_seconds"] = round(embed_seconds, 3)
    model.metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    return model
