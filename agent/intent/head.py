"""The classification head over sentence embeddings, its calibration and its out-of-scope threshold.

The head is a multinomial logistic regression (fitted with scikit-learn, applied with numpy so a
loaded model needs nothing but its arrays). Its probabilities are calibrated by one temperature
fitted on out-of-fold predictions. With an out-of-scope class, a message is out of scope when the
log-ratio of its best intent's probability to the out-of-scope class's falls below a threshold
tuned on out-of-fold data; without one, when the best intent's calibrated probability does
(docs/intents.md compares these and other out-of-scope scores on CLINC150).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

#: Label of the extra class trained on out-of-scope examples, when there are any.
OOS_CLASS = "__out_of_scope__"


@dataclass(frozen=True)
class SoftmaxHead:
    """Linear softmax classifier: ``labels[i]`` is scored by ``weights[i] @ x + bias[i]``."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (n_classes, dim) float32
    bias: np.ndarray  # (n_classes,) float32
    temperature: float = 1.0

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors, dtype=np.float32) @ self.weights.T + self.bias

    def calibrated_logits(self, vectors: np.ndarray) -> np.ndarray:
        """Logits divided by the temperature: their softmax is :meth:`proba`, and the difference of
        two is the log of the ratio of two calibrated probabilities."""
        return self.logits(vectors) / self.temperature

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, ``(n, n_classes)``."""
        return softmax(self.calibrated_logits(vectors))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_head(vectors: np.ndarray, targets: np.ndarray, labels: tuple[str, ...], c: float) -> SoftmaxHead:
    """Fit an L2-regularised multinomial logistic regression (``c`` = inverse regularisation).

    ``targets`` are indices into ``labels``; every label needs at least one example.
    """
    if len(labels) < 2:
        raise ValueError("an intent model needs at least two classes")
    missing = set(range(len(labels))) - set(np.unique(targets).tolist())
    if missing:
        raise ValueError(f"no training example for {sorted(labels[i] for i in missing)}")
    model = LogisticRegression(C=c, max_iter=500, tol=1e-4, class_weight="balanced")
    # one BLAS thread: on a busy 2-core host, two threads contend and the fit runs ~7x slower
    with warnings.catch_warnings(), threadpool_limits(1):
        # lbfgs stopping a little early changes accuracy by hundredths of a point; not worth noise
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(vectors, targets)
    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if len(labels) == 2:  # scikit-learn keeps one row for two classes: softmax([0, z]) == sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    return SoftmaxHead(labels=labels, weights=coef, bias=intercept)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of ``targets`` (Guo et al., 2017)."""
    if len(targets) == 0:
        return 1.0
    rows = np.arange(len(targets))

    def nll(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[rows, targets]))

    grid = np.linspace(np.log(0.05), np.log(20.0), 61)
    best = float(grid[int(np.argmin([nll(x) for x in grid]))])
    step = float(grid[1] - grid[0])
    fine = np.linspace(best - step, best + step, 41)
    return float(np.exp(fine[int(np.argmin([nll(x) for x in fine]))]))


@dataclass(frozen=True)
class ThresholdChoice:
    """The tuned threshold and what it did on the data it was tuned on."""

    threshold: float
    in_scope_accuracy: float  # correct and accepted, over all in-scope held-out messages
    in_scope_rejected: float  # correct at threshold 0 but rejected, over all in-scope
    oos_recall: float | None  # None when there was no out-of-scope held-out data


def tune_threshold(
    in_confidence: np.ndarray,
    in_correct: np.ndarray,
    oos_confidence: np.ndarray,
    oos_by_class: np.ndarray,
    *,
    max_in_scope_rejection: float,
    oos_weight: float,
    floor: float = 0.0,
) -> ThresholdChoice:
    """Choose the out-of-scope threshold on calibrated top-intent confidences of held-out messages.

    ``in_correct`` marks in-scope messages whose top intent is right; ``oos_by_class`` marks
    out-of-scope messages the out-of-scope class already catches. With out-of-scope data, the
    threshold maximises ``in-scope accuracy + oos_weight * OOS recall`` among thresholds that
    reject at most ``max_in_scope_rejection`` of in-scope messages that would have been right;
    without, it is the highest such threshold. ``floor`` is a score no message has (the threshold
    that rejects nothing): 0 for probabilities, below every score for a log-ratio.
    """
    n_in = max(len(in_confidence), 1)
    correct_conf = np.sort(in_confidence[in_correct.astype(bool)])
    base_accuracy = len(correct_conf) / n_in
    candidates = np.unique(np.concatenate([[floor], in_confidence, oos_confidence]))

    def rejected(th: float) -> float:
        return float(np.searchsorted(correct_conf, th, side="left")) / n_in

    allowed = [float(th) for th in candidates if rejected(th) <= max_in_scope_rejection + 1e-12]
    if len(oos_confidence) == 0:
        best = max(allowed)
        return ThresholdChoice(best, base_accuracy - rejected(best), rejected(best), None)

    def recall(th: float) -> float:
        return float(np.mean(oos_by_class | (oos_confidence < th)))

    scores = [base_accuracy - rejected(th) + oos_weight * recall(th) for th in allowed]
    best = _plateau_middle(allowed, scores)
    return ThresholdChoice(best, base_accuracy - rejected(best), rejected(best), recall(best))


def _plateau_middle(thresholds: list[float], scores: list[float]) -> float:
    """The middle value of the longest run of consecutive best-scoring thresholds.

    Every threshold between two neighbouring candidates scores the same, so the middle of the run
    keeps the largest margin from both in-scope and out-of-scope held-out messages.
    """
    top = max(scores)
    best_run: tuple[int, int] = (0, -1)
    start = None
    for i, score in enumerate([*scores, -np.inf]):
        if score >= top - 1e-12:
            start = i if start is None else start
        elif start is not None:
            if i - start > best_run[1] - best_run[0] + 1:
                best_run = (start, i - 1)
            start = None
    return (thresholds[best_run[0]] + thresholds[best_run[1]]) / 2
