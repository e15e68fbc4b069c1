"""Embedding backends for intents, including concatenations such as ``use-multilingual+minilm``.

A concatenated backend embeds with each part, scales every part by ``1/sqrt(parts)`` and joins
them, so rows stay unit length and a dot product is the mean of the parts' cosine similarities.
The pipeline must embed a message with the model's own embedder
(:attr:`IntentClassifier.embedder`) before calling :meth:`IntentClassifier.predict_embeddings`.

A backend with a ``minilm-tuned`` part (:mod:`agent.intent.tuning`) has no shared embedder: that
part is the MiniLM fine-tuned for one intent model, so it is passed in as ``tuned``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from agent.intent.tuning import TUNED_BASE, TUNED_PART
from knowledge.embeddings import Embedder, get_embedder


class ConcatEmbedder(Embedder):
    """Several embedders side by side; ``name`` is their names joined by ``+``."""

    def __init__(self, parts: Sequence[Embedder]) -> None:
        self._parts = list(parts)
        self.name = "+".join(part.name for part in self._parts)
        self.dim = sum(part.dim for part in self._parts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        scale = np.float32(1.0 / np.sqrt(len(self._parts)))
        return np.hstack([part.embed(texts) * scale for part in self._parts]).astype(np.float32)


def backend_parts(backend: str) -> list[str]:
    """The embedder names of ``backend`` (``"a+b"`` -> ``["a", "b"]``)."""
    return [name.strip() for name in backend.split("+")]


def is_tuned(backend: str) -> bool:
    """Whether ``backend`` has a part fine-tuned per intent model."""
    return TUNED_PART in backend_parts(backend)


def frozen_backend(backend: str) -> str:
    """``backend`` with its tuned part, if any, replaced by the model that part starts from."""
    return "+".join(TUNED_BASE if name == TUNED_PART else name for name in backend_parts(backend))


def resolve_embedder(backend: str, tuned: Embedder | None = None) -> Embedder:
    """The embedder for ``backend``: a :func:`knowledge.embeddings.get_embedder` name or ``a+b``;
    ``tuned`` serves the ``minilm-tuned`` part (``ValueError`` when that part has none)."""
    if not is_tuned(backend):
        return _shared_embedder(backend)
    if tuned is None:
        raise ValueError(f"backend {backend!r} needs the intent model's tuned encoder")
    parts = [tuned if name == TUNED_PART else get_embedder(name) for name in backend_parts(backend)]
    return parts[0] if len(parts) == 1 else ConcatEmbedder(parts)


@functools.cache
def _shared_embedder(backend: str) -> Embedder:
    names = backend_parts(backend)
    if len(names) == 1:
        return get_embedder(names[0])
    return ConcatEmbedder([get_embedder(name) for name in names])
