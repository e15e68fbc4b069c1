"""Train the sentiment head shipped in ``agent/resources/sentiment.npz``.

Run: ``python -m eval.training.sentiment --data /work/shared/data/umsab --out agent/resources/sentiment.npz``

Fits every candidate of a small grid (logistic regression over C, a one-hidden-layer MLP over
width and L2), each with and without the lexicon columns of ``agent.sentiment.lexicon_features``,
on the UMSAB train splits of the six languages embedded with multilingual USE; keeps the one
with the best macro-F1 on the validation splits; prints every candidate's figures and the
winner's per-language accuracy and macro-F1; writes the winner (fitted on train only, so the
validation figures stay honest). Deterministic: fixed seeds, deterministic embedder.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neural_network import MLPClassifier

from agent.sentiment import SentimentModel, build_features, lexicon_features
from eval.datasets.umsab import UmsabRow, load_umsab
from knowledge.embeddings import get_embedder

EMBEDDER = "use-multilingual"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One grid point: ``kind`` is ``"logreg"`` (``size`` = C) or ``"mlp"`` (``size`` = hidden units)."""

    kind: str
    size: float
    alpha: float
    lexicon: bool

    def describe(self) -> str:
        model = f"logreg C={self.size:g}" if self.kind == "logreg" else \
            f"mlp {int(self.size)} alpha={self.alpha:g}"
        return f"{model}{' +lexicon' if self.lexicon else ''}"


GRID: tuple[Candidate, ...] = tuple(
    [Candidate("logreg", c, 0.0, lex) for lex in (False, True) for c in (0.3, 1.0, 3.0, 10.0)]
    + [Candidate("mlp", h, a, lex) for lex in (False, True) for h in (128, 256) for a in (1e-3, 1e-2)]
)


def embed_rows(rows: Sequence[UmsabRow], batch: int = 256) -> np.ndarray:
    """USE embeddings of the rows' texts, in order."""
    embedder = get_embedder(EMBEDDER)
    texts = [row.text for row in rows]
    return np.vstack([embedder.embed(texts[i:i + batch]) for i in range(0, len(texts), batch)])


def fit(candidate: Candidate, features: np.ndarray, labels: np.ndarray) -> SentimentModel:
    """Fit ``candidate`` and return it as a numpy ``SentimentModel``."""
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    if candidate.kind == "logreg":
        logreg = LogisticRegression(C=candidate.size, max_iter=5000).fit(features, labels)
        layers = ((logreg.coef_.T.astype(np.float32), logreg.intercept_.astype(np.float32)),)
    else:
        mlp = MLPClassifier((int(candidate.size),), alpha=candidate.alpha, max_iter=300,
                            early_stopping=True, random_state=0).fit(features, labels)
        layers = tuple((w.astype(np.float32), b.astype(np.float32))
                       for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True))
    return SentimentModel(layers=layers, embedder=EMBEDDER, lexicon=candidate.lexicon)


def scores(labels: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1)."""
    return float(accuracy_score(labels, predicted)), float(f1_score(labels, predicted, average="macro"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/umsab"))
    parser.add_argument("--out", type=Path, default=Path("agent/resources/sentiment.npz"))
    args = parser.parse_args(argv)

    train_rows, val_rows = load_umsab(args.data, "train"), load_umsab(args.data, "val")
    start = time.perf_counter()
    train_emb, val_emb = embed_rows(train_rows), embed_rows(val_rows)
    print(f"embedded {len(train_rows)} train + {len(val_rows)} val rows in {time.perf_counter() - start:.0f} s")
    y_train = np.array([row.label for row in train_rows])
    y_val = np.array([row.label for row in val_rows])
    train_texts, val_texts = [row.text for row in train_rows], [row.text for row in val_rows]

    print("\n| candidate | val accuracy | val macro-F1 |\n|---|---|---|")
    best_by_lexicon: dict[bool, tuple[float, Candidate, SentimentModel]] = {}
    for candidate in GRID:
        model = fit(candidate, build_features(train_texts, train_emb, lexicon=candidate.lexicon), y_train)
        predicted = model.predict_proba(model.features(val_texts, val_emb)).argmax(axis=1)
        accuracy, macro_f1 = scores(y_val, predicted)
        print(f"| {candidate.describe()} | {accuracy:.3f} | {macro_f1:.3f} |")
        if candidate.lexicon not in best_by_lexicon or macro_f1 > best_by_lexicon[candidate.lexicon][0]:
            best_by_lexicon[candidate.lexicon] = (macro_f1, candidate, model)
    _, chosen, model = max(best_by_lexicon.values(), key=lambda item: item[0])

    # does the lexicon help where it fires? compare the best of each feature set on those rows
    marked = lexicon_features(val_texts)[:, :2].sum(axis=1) > 0
    print(f"\nval rows with an emoji/emoticon: {int(marked.sum())}\n| best | macro-F1 on them |\n|---|---|")
    for _, candidate, other in best_by_lexicon.values():
        on_marked = other.predict_proba(other.features(val_texts, val_emb)).argmax(axis=1)[marked]
        print(f"| {candidate.describe()} | {scores(y_val[marked], on_marked)[1]:.3f} |")

    predicted = model.predict_proba(model.features(val_texts, val_emb)).argmax(axis=1)
    languages = np.array([row.language for row in val_rows])
    print(f"\nchosen: {chosen.describe()}\n\n| language | val accuracy | val macro-F1 |\n|---|---|---|")
    for language in dict.fromkeys(row.language for row in val_rows):
        mask = languages == language
        accuracy, macro_f1 = scores(y_val[mask], predicted[mask])
        print(f"| {language} | {accuracy:.3f} | {macro_f1:.3f} |")
    accuracy, macro_f1 = scores(y_val, predicted)
    print(f"| all | {accuracy:.3f} | {macro_f1:.3f} |")

    model.save(args.out)
    print(f"\nwrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
