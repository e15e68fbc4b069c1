"""Embedding backends for intents, including concatenations such as ``use-multilingual+minilm``.

A concatenated backend embeds with each part, scales every part by ``1/sqrt(parts)`` and joins
them, so rows stay unit length and a dot product is the mean of the parts' cosine similarities.
The pipeline must embed a message with the model's own ``backend`` before calling
:meth:`IntentClassifier.predict_embeddings`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

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


@functools.cache
def resolve_embedder(backend: str) -> Embedder:
    """The embedder for ``backend``: a :func:`knowledge.embeddings.get_embedder` name or ``a+b``."""
    names = [name.strip() for name in backend.split("+")]
    if len(names) == 1:
        return get_embedder(names[0])
    return ConcatEmbedder([get_embedder(name) for name in names])
