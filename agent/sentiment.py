"""Sentiment of an inbound message in any supported language, offline.

A small classifier (trained by ``eval.training.sentiment`` on the UMSAB tweets of the six
languages) reads the multilingual USE sentence embedding of the message, plus a few lexicon
counts (positive / negative emoji and emoticons, "!", "?") that the embedding barely sees. Its
weights ship in ``agent/resources/sentiment.npz`` and are loaded with numpy only (no pickle).

``score`` is P(positive) - P(negative), in [-1, 1]; ``label`` the most probable class and
``confidence`` its probability.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from knowledge.embeddings import get_embedder

SentimentLabel = Literal["negative", "neutral", "positive"]
LABELS: tuple[SentimentLabel, SentimentLabel, SentimentLabel] = ("negative", "neutral", "positive")

DEFAULT_MODEL_PATH = Path(__file__).parent / "resources" / "sentiment.npz"

# Emoji and emoticons with a clear polarity in customer messages. Kept short on purpose: the
# classifier learns one weight per group, so every entry must really lean that way.
POSITIVE_MARKS: tuple[str, ...] = (
    "😀", "😃", "😄", "😁", "😆", "😊", "🙂", "😉", "😍", "🥰", "😘", "😎", "🤩", "🥳", "😂", "🤣",
    "❤", "♥", "💕", "💖", "💗", "💙", "💚", "💛", "💜", "🧡", "👍", "👏", "🙌", "🙏", "💪", "🎉",
    "✨", "🌟", "⭐", "✅", "👌", "😻", "🤗", "☺",
    ":)", ":-)", ":D", ":-D", ";)", ";-)", ":p", ":P", "<3", "=)", "xD",
)
NEGATIVE_MARKS: tuple[str, ...] = (
    "😡", "😠", "🤬", "😤", "😞", "😟", "😔", "😢", "😭", "😩", "😫", "😒", "🙄", "😖", "😣", "😕",
    "🙁", "☹", "💔", "👎", "😱", "😰", "😨", "🤮", "🤢", "💩", "😑", "😐",
    ":(", ":-(", ":'(", ">:(", "D:", ":/", ":-/", "</3",
)

# Emoticons must end a token ("http://x" holds ":/"); "xD" and "D:" must also start one ("AND:")
_EMOTICON = re.compile(r"(?:>?[:;=][-']?[()DPp/]|</?3)(?![^\s.,!?])|(?<!\S)(?:xD|D:)(?!\S)")
_EMOTICON_POLARITY = {mark: 1 for mark in POSITIVE_MARKS if mark.isascii()} | {
    mark: -1 for mark in NEGATIVE_MARKS if mark.isascii()
}
_POSITIVE_EMOJI = tuple(mark for mark in POSITIVE_MARKS if not mark.isascii())
_NEGATIVE_EMOJI = tuple(mark for mark in NEGATIVE_MARKS if not mark.isascii())

#: Number of lexicon columns appended to the embedding (see ``lexicon_features``).
LEXICON_DIM = 4


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """``score`` in [-1, 1] (P(positive) - P(negative)), ``label``, and ``confidence`` = P(label)."""

    score: float
    label: SentimentLabel
    confidence: float


def lexicon_features(texts: Sequence[str]) -> np.ndarray:
    """``(len(texts), LEXICON_DIM)`` float32: positive marks, negative marks, "!" and "?" runs.

    Counts are capped at 3 and divided by 3, so every column lies in [0, 1].
    """
    rows = np.zeros((len(texts), LEXICON_DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        positive = sum(text.count(mark) for mark in _POSITIVE_EMOJI)
        negative = sum(text.count(mark) for mark in _NEGATIVE_EMOJI)
        for emoticon in _EMOTICON.findall(text):
            polarity = _EMOTICON_POLARITY.get(emoticon, 0)
            positive += polarity > 0
            negative += polarity < 0
        rows[i] = (positive, negative, text.count("!"), text.count("?"))
    return np.minimum(rows, 3.0) / 3.0


def build_features(texts: Sequence[str], embeddings: np.ndarray, *, lexicon: bool) -> np.ndarray:
    """A classifier's input rows: the embeddings, with ``lexicon_features`` appended if ``lexicon``."""
    rows = np.asarray(embeddings, dtype=np.float32)
    return np.hstack([rows, lexicon_features(texts)]) if lexicon else rows


@dataclass(frozen=True)
class SentimentModel:
    """A feed-forward classifier: ReLU between ``layers``, softmax over ``LABELS`` at the end.

    ``embedder`` names the ``knowledge.embeddings`` backend its input rows must come from and
    ``lexicon`` whether ``lexicon_features`` are appended to them.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    embedder: str
    lexicon: bool

    @property
    def input_dim(self) -> int:
        return int(self.layers[0][0].shape[0])

    def features(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """The classifier's input rows for ``texts`` given their embeddings."""
        return build_features(texts, embeddings, lexicon=self.lexicon)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(n, 3)`` class probabilities in ``LABELS`` order."""
        hidden = np.asarray(features, dtype=np.float32)
        for index, (weight, bias) in enumerate(self.layers):
            hidden = hidden @ weight + bias
            if index < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        hidden = hidden - hidden.max(axis=1, keepdims=True)
        exp = np.exp(hidden)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        """Write the model as a plain ``.npz`` (readable without pickle)."""
        arrays: dict[str, np.ndarray] = {
            "embedder": np.array(self.embedder),
            "lexicon": np.array(self.lexicon),
            "labels": np.array(LABELS),
        }
        for index, (weight, bias) in enumerate(self.layers):
            arrays[f"weight_{index}"] = weight.astype(np.float32)
            arrays[f"bias_{index}"] = bias.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        """Read a model written by ``save``; raises ``ValueError`` if the file is not one."""
        with np.load(path, allow_pickle=False) as data:
            if tuple(str(label) for label in data["labels"]) != LABELS:
                raise ValueError(f"{path}: labels {list(data['labels'])} are not {list(LABELS)}")
            layers: list[tuple[np.ndarray, np.ndarray]] = []
            while f"weight_{len(layers)}" in data:
                index = len(layers)
                layers.append((data[f"weight_{index}"], data[f"bias_{index}"]))
            if not layers:
                raise ValueError(f"{path} holds no layers")
            return cls(layers=tuple(layers), embedder=str(data["embedder"]), lexicon=bool(data["lexicon"]))


@functools.cache
def load_sentiment_model(path: Path = DEFAULT_MODEL_PATH) -> SentimentModel:
    """The shared model at ``path`` (the shipped one by default)."""
    return SentimentModel.load(path)


def _result(probabilities: np.ndarray) -> SentimentResult:
    best = int(np.argmax(probabilities))
    return SentimentResult(
        score=float(probabilities[2] - probabilities[0]),
        label=LABELS[best],
        confidence=float(probabilities[best]),
    )


def analyze_sentiment_batch(texts: Sequence[str], embeddings: np.ndarray | None = None,
                            *, model: SentimentModel | None = None) -> list[SentimentResult]:
    """Sentiment of each text, in order.

    Args:
        texts: the messages.
        embeddings: their rows from the model's embedder (``knowledge.embeddings``
            ``"use-multilingual"`` for the shipped model), when the caller has them already;
            computed here otherwise.
        model: another model than the shipped one.

    Raises:
        ValueError: ``embeddings`` does not have one row per text of the model's width.
    """
    model = model or load_sentiment_model()
    if not texts:
        return []
    if embeddings is None:
        embeddings = get_embedder(model.embedder).embed(list(texts))
    expected = model.input_dim - (LEXICON_DIM if model.lexicon else 0)
    if embeddings.shape != (len(texts), expected):
        raise ValueError(f"embeddings have shape {embeddings.shape}, expected ({len(texts)}, {expected}) "
                         f"from the {model.embedder!r} embedder")
    probabilities = model.predict_proba(model.features(texts, embeddings))
    return [_result(row) for row in probabilities]


def analyze_sentiment(text: str) -> SentimentResult:
    """Sentiment of one message with the shipped model."""
    return analyze_sentiment_batch([text])[0]
