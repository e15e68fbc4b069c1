"""A trained intent model: turns messages (or their embeddings) into typed predictions.

The pipeline embeds each message once with the model's :attr:`~IntentClassifier.embedder` and
calls :meth:`IntentClassifier.predict_embeddings`; :meth:`IntentClassifier.predict` embeds for callers
that only have text (CLI, API ``agent/analyze``, eval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from agent.intent.embedding import is_tuned, resolve_embedder
from agent.intent.head import OOS_CLASS, SoftmaxHead, softmax
from agent.intent.spec import IntentSpec, builtin_names
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder


@dataclass(frozen=True, slots=True)
class IntentScore:
    """An intent and its calibrated probability."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """What the model says about one message.

    ``intent`` is None when the message is out of scope. ``confidence`` is the calibrated
    probability of that decision: of ``intent`` when there is one, else ``1 - p(best intent)``.
    ``alternatives`` are the best in-scope intents, most likely first (given even when out of
    scope, for logs and the console). ``escalate`` copies the intent's flag from the spec.
    """

    intent: str | None
    confidence: float
    alternatives: tuple[IntentScore, ...]
    escalate: bool = False

    @property
    def is_out_of_scope(self) -> bool:
        return self.intent is None


@dataclass(frozen=True)
class IntentClassifier:
    """A head over one embedding ``backend``, with its spec, OOS threshold and training metrics.

    A message is out of scope when ``oos_log_ratio`` is set (the head has an out-of-scope class)
    and ``log p(best intent) - log p(out of scope)`` falls below it; otherwise when the best
    intent's calibrated probability falls below ``threshold``. ``encoder`` is the MiniLM fine-tuned
    for this model when ``backend`` has a ``minilm-tuned`` part (:mod:`agent.intent.tuning`), else None.
    """

    spec: IntentSpec
    backend: str
    head: SoftmaxHead
    threshold: float
    metrics: dict[str, Any] = field(default_factory=dict)
    encoder: SentenceTransformerEmbedder | None = None
    oos_log_ratio: float | None = None

    def __post_init__(self) -> None:
        unknown = set(self.head.labels) - {*self.spec.names, OOS_CLASS}
        if unknown:
            raise ValueError(f"head labels not in the spec: {sorted(unknown)}")
        if is_tuned(self.backend) and self.encoder is None:
            raise ValueError(f"backend {self.backend!r} needs the model's tuned encoder")
        if self.oos_log_ratio is not None and OOS_CLASS not in self.head.labels:
            raise ValueError("an out-of-scope log-ratio needs a head with the out-of-scope class")

    @cached_property
    def embedder(self) -> Embedder:
        """What turns a message into the vectors this model's head reads."""
        return resolve_embedder(self.backend, self.encoder)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(label for label in self.head.labels if label != OOS_CLASS)

    @property
    def builtin_only(self) -> bool:
        """Whether the model knows only the built-in intents (no deployment intents loaded yet):
        its out-of-scope verdict then means "no built-in intent", not "outside the business"."""
        return set(self.intents) <= builtin_names()

    def predict(self, texts: Sequence[str], k: int = 3) -> list[IntentPrediction]:
        """Embed ``texts`` with the model's embedder, then :meth:`predict_embeddings`."""
        return self.predict_embeddings(self.embedder.embed(list(texts)), k=k)

    def predict_embeddings(self, vectors: np.ndarray, k: int = 3) -> list[IntentPrediction]:
        """Predict from ``(n, dim)`` vectors made by the model's ``backend``; raises ``ValueError`` on a
        dimension mismatch (a vector from another backend)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.shape[0] == 0:
            return []
        if vectors.shape[1] != self.head.dim:
            raise ValueError(
                f"vectors have {vectors.shape[1]} dimensions; model {self.backend!r} expects {self.head.dim}"
            )
        logits = self.head.calibrated_logits(vectors)
        proba = softmax(logits)
        labels = self.head.labels
        oos_index = labels.index(OOS_CLASS) if OOS_CLASS in labels else None
        in_scope = np.array([i for i in range(len(labels)) if i != oos_index])
        escalating = {intent.name for intent in self.spec.intents if intent.escalate}
        results = []
        for row, scaled in zip(proba, logits, strict=True):
            order = in_scope[np.argsort(-row[in_scope], kind="stable")][:k]
            alternatives = tuple(IntentScore(labels[i], float(row[i])) for i in order)
            best = alternatives[0]
            if self.oos_log_ratio is not None and oos_index is not None:
                rejected = bool(scaled[order[0]] - scaled[oos_index] < self.oos_log_ratio)
            else:
                oos_wins = oos_index is not None and row[oos_index] > best.confidence
                rejected = oos_wins or best.confidence < self.threshold
            if rejected:
                results.append(IntentPrediction(None, 1.0 - best.confidence, alternatives))
            else:
                results.append(IntentPrediction(best.name, best.confidence, alternatives, best.name in escalating))
        return results
