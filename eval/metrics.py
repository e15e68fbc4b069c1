"""Metrics for classifiers, out-of-scope detection, retrieval, replies and latency.

Plain functions over plain lists so every suite computes figures the same way. A figure with
nothing to measure (no gold escalation for a recall, no predicted one for a precision, no case
judged) is ``None``, shown as :data:`NOT_APPLICABLE` ("n/a"), never a flattering 1.0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agent.language import clean_text


@dataclass(frozen=True)
class ClassReport:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationReport:
    accuracy: float
    macro_f1: float
    per_class: list[ClassReport]
    labels: list[str]
    confusion: list[list[int]]  # rows: expected, columns: predicted, in ``labels`` order
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: How an undefined figure (``None``) is shown in HTML, the CLI and the console.
NOT_APPLICABLE = "n/a"


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def ratio(a: float, b: float) -> float | None:
    """``a / b`` rounded to 4 places; None (n/a) when ``b`` is 0."""
    return round(a / b, 4) if b else None


def share(flags: Sequence[bool]) -> float | None:
    """The share of true ``flags``; None (n/a) when there are none."""
    return ratio(sum(1 for flag in flags if flag), len(flags))


def mean(values: Sequence[float]) -> float | None:
    """The mean of ``values`` rounded to 4 places; None (n/a) when there are none."""
    return ratio(float(sum(values)), len(values))


def classification(expected: Sequence[str], predicted: Sequence[str]) -> ClassificationReport:
    """Accuracy, macro-F1 over the expected labels, per-class precision/recall and confusion."""
    if len(expected) != len(predicted):
        raise ValueError("expected and predicted differ in length")
    labels = sorted(set(expected) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for e, p in zip(expected, predicted, strict=True):
        confusion[index[e], index[p]] += 1
    per_class = []
    for label in labels:
        i = index[label]
        tp = int(confusion[i, i])
        precision = _safe_div(tp, int(confusion[:, i].sum()))
        recall = _safe_div(tp, int(confusion[i, :].sum()))
        f1 = _safe_div(2 * precision * recall, precision + recall)
        support = int(confusion[i, :].sum())
        per_class.append(ClassReport(label, round(precision, 4), round(recall, 4), round(f1, 4), support))
    scored = [c for c in per_class if c.support > 0]
    correct = sum(1 for e, p in zip(expected, predicted, strict=True) if e == p)
    return ClassificationReport(
        accuracy=round(_safe_div(correct, len(expected)), 4),
        macro_f1=round(_safe_div(sum(c.f1 for c in scored), len(scored)), 4),
        per_class=per_class,
        labels=labels,
        confusion=confusion.tolist(),
        n=len(expected),
    )


def binary(expected: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | None]:
    """Precision, recall and F1 of the positive class (out-of-scope, escalate, opt-out...).

    Precision is None (n/a) when nothing was predicted positive, recall when nothing is positive,
    F1 when either is; ``positives`` counts the gold positives.
    """
    tp = sum(1 for e, p in zip(expected, predicted, strict=True) if e and p)
    fp = sum(1 for e, p in zip(expected, predicted, strict=True) if not e and p)
    fn = sum(1 for e, p in zip(expected, predicted, strict=True) if e and not p)
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = None if precision is None or recall is None else round(
        _safe_div(2 * precision * recall, precision + recall), 4)
    return {"precision": precision, "recall": recall, "f1": f1, "positives": tp + fn}


def in_scope_accuracy(expected: Sequence[str], predicted: Sequence[str], oos_label: str = "oos") -> float:
    """Share of in-scope items given their right intent (a rejection counts as wrong)."""
    pairs = [(e, p) for e, p in zip(expected, predicted, strict=True) if e != oos_label]
    return round(_safe_div(sum(1 for e, p in pairs if e == p), len(pairs)), 4)


def accuracy_by_bucket(
    expected: Sequence[Hashable], predicted: Sequence[Hashable], buckets: Sequence[str]
) -> dict[str, Any]:
    """Accuracy per bucket (e.g. message length ``1-3 words`` / ``4+ words``)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for e, p, b in zip(expected, predicted, buckets, strict=True):
        hits[b].append(e == p)
    return {b: {"accuracy": round(_safe_div(sum(v), len(v)), 4), "n": len(v)} for b, v in sorted(hits.items())}


def length_bucket(text: str) -> str:
    """``1-3 words`` or ``4+ words``, counted after the language detector's cleaning (links,
    numbers, emoji and punctuation dropped), as the language suite buckets messages."""
    words = len(clean_text(text).split())
    return "1-3 words" if words <= 3 else "4+ words"


def retrieval(ranks: Sequence[int | None], ks: Sequence[int] = (1, 3)) -> dict[str, float]:
    """hit@k and MRR from the 1-based rank of the expected source (``None`` = not retrieved)."""
    n = len(ranks)
    found: dict[str, float] = {f"hit@{k}": round(_safe_div(sum(1 for r in ranks if r and r <= k), n), 4) for k in ks}
    found["mrr"] = round(_safe_div(sum(1 / r for r in ranks if r), n), 4)
    return found


def latency(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "n": 0}
    values = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "n": len(values)}


def fact_coverage(reply: str, must_contain: Sequence[str], must_not_contain: Sequence[str]) -> dict[str, Any]:
    """Which required facts a reply holds and which forbidden ones leaked (case-insensitive)."""
    lowered = reply.lower()
    missing = [f for f in must_contain if f.lower() not in lowered]
    leaked = [f for f in must_not_contain if f.lower() in lowered]
    covered = 1.0 if not must_contain else round(1 - len(missing) / len(must_contain), 4)
    return {"coverage": covered, "missing": missing, "leaked": leaked}
