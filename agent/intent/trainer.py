"""Train an :class:`IntentClassifier` from a spec: embed, cross-validate, calibrate, tune, refit.

1. Every example (and every out-of-scope example) is embedded once.
2. ``folds``-fold cross-validation gives out-of-fold logits for every example, for every
   regularisation strength in ``c_values``; the one with the best out-of-fold top-1 accuracy is
   kept. One temperature is fitted on its logits (calibration), then the out-of-scope threshold
   is tuned on the out-of-fold scores (see :func:`agent.intent.head.tune_threshold`): the
   log-ratio of the best intent's calibrated probability to the out-of-scope class's when there
   is that class, else the best intent's calibrated probability.
3. The head is refitted on everything and carries that temperature and threshold.

With a ``minilm-tuned`` backend (:mod:`agent.intent.tuning`) step 1 is learnt too: every fold
fine-tunes its own MiniLM on its training part only (so the held-out confidences that calibrate
and tune the threshold stay honest), and the final head reads a MiniLM tuned on everything, which
the model carries as its ``encoder``. That costs ``folds + 1`` fine-tunings. The head's ``C``
then comes from ``config.tuning.head_c_values`` (chosen on validation for tuned embeddings).

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from agent.intent.classifier import IntentClassifier
from agent.intent.embedding import backend_parts, frozen_backend, is_tuned, resolve_embedder
from agent.intent.head import OOS_CLASS, SoftmaxHead, fit_head, fit_temperature, softmax, tune_threshold
from agent.intent.spec import IntentSpec
from agent.intent.tuning import TUNED_PART, TuningConfig, tune_encoder
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder, get_embedder

DEFAULT_BACKEND = "use-multilingual"


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs of :func:`train_intents`; the defaults are the ones measured in docs/intents.md."""

    # inverse L2 regularisation of the logistic regression, chosen among these by cross-validation
    c_values: tuple[float, ...] = (10.0, 100.0)
    folds: int = 3
    seed: int = 0
    oos_class: bool = True  # train out-of-scope examples as a class (else only tune with them)
    # share of right in-scope answers the threshold may drop: 0.01 maximised in-scope accuracy + OOS
    # recall on a choosing split carved from CLINC150's train (docs/intents.md; 0.005: 97.7 % / 88 %,
    # 0.01: 97.3 % / 98 %, 0.02: 96.8 % / 98 %)
    max_in_scope_rejection: float = 0.01
    oos_weight: float = 1.0  # weight of OOS recall against in-scope accuracy when tuning
    # an out-of-scope example this close (cosine) to an intent example is dropped: the generic pool's
    # "cancel my order" must not fight a deployment's own "please cancel the order i made"
    oos_conflict_similarity: float = 0.8
    tuning: TuningConfig = field(default_factory=TuningConfig)  # for a ``minilm-tuned`` backend

    def __post_init__(self) -> None:
        if not self.c_values or min(self.c_values) <= 0:
            raise ValueError("c_values must hold at least one positive value")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")
        if not 0 <= self.max_in_scope_rejection < 1:
            raise ValueError("max_in_scope_rejection must be in [0, 1)")


def stratified_folds(targets: np.ndarray, folds: int, seed: int) -> np.ndarray:
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


#: Given masks of the in-scope and out-of-scope examples an encoder may learn from, the vectors of
#: every in-scope and every out-of-scope example (a frozen encoder ignores the masks).
Features = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


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
    kept = _without_conflicts(vectors, oos_vectors, config)
    oos_kept = oos_vectors[kept]
    return _train(spec, backend, intent_labels, len(oos_vectors), kept, lambda _i, _o: (vectors, oos_kept), config)


def _without_conflicts(vectors: np.ndarray, oos_vectors: np.ndarray, config: TrainingConfig) -> np.ndarray:
    """Indices of the out-of-scope examples that do not nearly repeat an intent example."""
    if not len(oos_vectors) or not len(vectors):
        return np.arange(len(oos_vectors))
    return np.flatnonzero((oos_vectors @ vectors.T).max(axis=1) < config.oos_conflict_similarity)


def _train(
    spec: IntentSpec,
    backend: str,
    intent_labels: Sequence[str],
    n_oos_given: int,
    oos_kept: np.ndarray,
    features: Features,
    config: TrainingConfig,
    encoder: Callable[[], SentenceTransformerEmbedder | None] = lambda: None,
) -> IntentClassifier:
    """Cross-validate, calibrate, tune the threshold and refit (the module docstring's steps 2-3).

    ``features`` gives the vectors of the intent examples and of the kept out-of-scope examples
    (``oos_kept`` indexes the given ones); ``encoder`` returns the encoder of its last call.
    """
    started = time.perf_counter()
    names = tuple(spec.names)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(intent_labels) - set(index))
    if unknown:
        raise ValueError(f"labels not in the spec: {unknown}")
    use_oos_class = config.oos_class and len(oos_kept) >= config.folds
    labels = (*names, OOS_CLASS) if use_oos_class else names
    in_targets = np.array([index[label] for label in intent_labels], dtype=np.int64)
    oos_targets = np.full(len(oos_kept), len(names), dtype=np.int64)

    in_folds = stratified_folds(in_targets, config.folds, config.seed)
    oos_folds = stratified_folds(oos_targets, config.folds, config.seed + 1)
    in_logits = np.zeros((len(config.c_values), len(in_targets), len(labels)), dtype=np.float32)
    oos_logits = np.zeros((len(config.c_values), len(oos_targets), len(labels)), dtype=np.float32)
    for fold in range(config.folds):
        in_train, oos_train = in_folds != fold, (oos_folds != fold) & use_oos_class
        vectors, oos_vectors = features(in_train, oos_train)
        train_x, train_y = vectors[in_train], in_targets[in_train]
        if use_oos_class:
            train_x = np.vstack([train_x, oos_vectors[oos_train]])
            train_y = np.concatenate([train_y, oos_targets[oos_train]])
        for k, c in enumerate(config.c_values):
            head = fit_head(train_x, train_y, labels, c)
            in_logits[k, ~in_train] = head.logits(vectors[~in_train])
            oos_logits[k, oos_folds == fold] = head.logits(oos_vectors[oos_folds == fold])
    n = len(names)
    cv_accuracy = [float((logits[:, :n].argmax(axis=1) == in_targets).mean()) for logits in in_logits]
    best = int(np.argmax(cv_accuracy))  # the first of equals: the strongest regularisation listed first
    c, in_logits, oos_logits = config.c_values[best], in_logits[best], oos_logits[best]

    calib_logits, calib_targets = in_logits, in_targets
    if use_oos_class:
        calib_logits = np.vstack([in_logits, oos_logits])
        calib_targets = np.concatenate([in_targets, oos_targets])
    temperature = fit_temperature(calib_logits, calib_targets)

    in_scaled, oos_scaled = in_logits / temperature, oos_logits / temperature
    in_proba = softmax(in_scaled)
    in_conf = in_proba[:, :n].max(axis=1)
    in_best = in_proba[:, :n].argmax(axis=1)
    in_correct = in_best == in_targets
    no_oos_yet = np.zeros(len(oos_targets), dtype=bool)
    if use_oos_class:
        # log p(best intent) - log p(out of scope): on CLINC150 it rejects more out-of-scope queries
        # than the best intent's probability at the same in-scope cost (docs/intents.md)
        in_ratio = in_scaled[:, :n].max(axis=1) - in_scaled[:, n]
        oos_ratio = oos_scaled[:, :n].max(axis=1) - oos_scaled[:, n]
        choice = tune_threshold(in_ratio, in_correct, oos_ratio, no_oos_yet,
                                max_in_scope_rejection=config.max_in_scope_rejection,
                                oos_weight=config.oos_weight,
                                floor=float(min(in_ratio.min(), oos_ratio.min(initial=0.0))) - 1.0)
        threshold, oos_log_ratio = 0.0, choice.threshold
    else:
        oos_conf = softmax(oos_scaled)[:, :n].max(axis=1) if len(oos_targets) else np.zeros(0)
        choice = tune_threshold(in_conf, in_correct, oos_conf, no_oos_yet,
                                max_in_scope_rejection=config.max_in_scope_rejection,
                                oos_weight=config.oos_weight)
        threshold, oos_log_ratio = choice.threshold, None

    everything = np.ones(len(in_targets), dtype=bool), np.full(len(oos_targets), use_oos_class)
    vectors, oos_vectors = features(*everything)
    all_x, all_y = vectors, in_targets
    if use_oos_class:
        all_x, all_y = np.vstack([vectors, oos_vectors]), np.concatenate([in_targets, oos_targets])
    final = fit_head(all_x, all_y, labels, c)
    final = SoftmaxHead(labels=labels, weights=final.weights, bias=final.bias, temperature=temperature)
    metrics = {
        "n_intents": n,
        "n_examples": len(in_targets),
        "n_oos_examples": len(oos_targets),
        "n_oos_dropped": n_oos_given - len(oos_targets),
        "oos_class": use_oos_class,
        "c": c,
        "cv_accuracy_by_c": dict(zip([str(value) for value in config.c_values], cv_accuracy, strict=True)),
        "temperature": temperature,
        "threshold": threshold,
        "oos_log_ratio": oos_log_ratio,
        "cv_accuracy": float((in_best == in_targets).mean()),
        "cv_in_scope_accuracy": choice.in_scope_accuracy,
        "cv_in_scope_rejected": choice.in_scope_rejected,
        "cv_oos_recall": choice.oos_recall,
        "cv_ece": _expected_calibration_error(in_conf, in_best == in_targets),
        "head_seconds": round(time.perf_counter() - started, 3),
        "config": asdict(config),
    }
    return IntentClassifier(
        spec=spec, backend=backend, head=final, threshold=threshold, metrics=metrics, encoder=encoder(),
        oos_log_ratio=oos_log_ratio,
    )


class _TunedFeatures:
    """:data:`Features` for a ``minilm-tuned`` backend: each call fine-tunes a MiniLM on the rows
    the masks select (out-of-scope rows as one more class) and embeds every example with it; the
    other parts of the backend are frozen and embedded once (``frozen``)."""

    def __init__(self, backend: str, texts: Sequence[str], targets: np.ndarray, oos_texts: Sequence[str],
                 frozen: tuple[np.ndarray, np.ndarray], tuning: TuningConfig) -> None:
        self.texts, self.targets, self.oos_texts = list(texts), targets, list(oos_texts)
        self.frozen, self.tuning = frozen, tuning
        parts = backend_parts(backend)
        dims = [get_embedder(name).dim for name in backend_parts(frozen_backend(backend))]
        tuned = parts.index(TUNED_PART)
        self.columns = slice(sum(dims[:tuned]), sum(dims[: tuned + 1]))
        self.scale = np.float32(1.0 / np.sqrt(len(parts)))
        self.encoder: SentenceTransformerEmbedder | None = None
        self.seconds = 0.0

    def __call__(self, in_rows: np.ndarray, oos_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        texts = [t for t, keep in zip(self.texts, in_rows, strict=True) if keep]
        texts += [t for t, keep in zip(self.oos_texts, oos_rows, strict=True) if keep]
        targets = [*self.targets[in_rows].tolist(), *([int(self.targets.max()) + 1] * int(oos_rows.sum()))]
        self.encoder = tune_encoder(texts, targets, self.tuning)
        vectors, oos_vectors = self.frozen[0].copy(), self.frozen[1].copy()
        vectors[:, self.columns] = self.encoder.embed(self.texts) * self.scale
        if len(self.oos_texts):
            oos_vectors[:, self.columns] = self.encoder.embed(self.oos_texts) * self.scale
        self.seconds += time.perf_counter() - started
        return vectors, oos_vectors


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
    overrides the one looked up by ``backend`` (its ``name`` must then be ``backend``); a
    ``minilm-tuned`` part is always fine-tuned here, on the spec's examples.
    """
    started = time.perf_counter()
    embedder = embedder or resolve_embedder(frozen_backend(backend))
    texts: list[str] = []
    labels: list[str] = []
    for intent in spec.intents:
        for text in intent.all_examples():
            texts.append(text)
            labels.append(intent.name)
    oos_texts = spec.out_of_scope_examples()
    embedded = embedder.embed(texts + oos_texts)
    vectors, oos_vectors = embedded[: len(texts)], embedded[len(texts) :]
    embed_seconds = time.perf_counter() - started
    if not is_tuned(backend):
        model = train_on_vectors(spec, backend, vectors, labels, oos_vectors, config)
    else:
        kept = _without_conflicts(vectors, oos_vectors, config)
        index = {name: i for i, name in enumerate(spec.names)}
        targets = np.array([index[label] for label in labels], dtype=np.int64)
        tuned = _TunedFeatures(backend, texts, targets, [oos_texts[i] for i in kept], (vectors, oos_vectors[kept]),
                               config.tuning)
        config = replace(config, c_values=config.tuning.head_c_values)
        model = _train(spec, backend, labels, len(oos_texts), kept, tuned, config, lambda: tuned.encoder)
        model.metrics["tune_seconds"] = round(tuned.seconds, 3)
    model.metrics["embed_seconds"] = round(embed_seconds, 3)
    model.metrics["train_seconds"] = round(time.perf_counter() - started, 3)
    return model
