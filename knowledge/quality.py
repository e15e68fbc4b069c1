"""Retrieval quality on labelled questions: hit@1, hit@3 and mean reciprocal rank.

A case names the FAQ question it expects; a hit counts when its ``question`` is that text. Used by
bench/knowledge.py and the tests; the eval package can feed it any labelled set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.retrieve import Mode


@dataclass(frozen=True)
class RetrievalCase:
    query: str
    language: str | None
    expected: str


@dataclass(frozen=True)
class RetrievalScores:
    cases: int
    hit_at_1: float
    hit_at_3: float
    mrr: float
    misses: tuple[str, ...]  # queries whose expected entry was not ranked first


def load_cases(path: Path) -> list[RetrievalCase]:
    """Cases from a JSON list of ``{"query", "language", "expected"}`` objects."""
    return [RetrievalCase(c["query"], c.get("language"), c["expected"]) for c in json.loads(path.read_text("utf-8"))]


def evaluate(
    base: KnowledgeBase, cases: Sequence[RetrievalCase], *, kb: str, mode: Mode = "hybrid", k: int = 10
) -> RetrievalScores:
    """Search every case in ``kb`` (filtered by the case's language) and score the ranks."""
    hit1 = hit3 = 0
    reciprocal = 0.0
    misses: list[str] = []
    vectors = base.embedder.embed([c.query for c in cases])  # one batch, not one call per question
    for case, vector in zip(cases, vectors, strict=True):
        hits = base.search(case.query, kb=kb, language=case.language, k=k, mode=mode, query_vector=vector)
        rank = next((h.rank for h in hits if h.question == case.expected), None)
        hit1 += rank == 1
        hit3 += rank is not None and rank <= 3
        reciprocal += 1.0 / rank if rank else 0.0
        if rank != 1:
            misses.append(case.query)
    n = len(cases) or 1
    return RetrievalScores(len(cases), hit1 / n, hit3 / n, reciprocal / n, tuple(misses))
