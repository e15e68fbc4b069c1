"""Retrieval quality on the bilingual shop FAQ (54 entries): the figures bench/knowledge.py prints."""

from __future__ import annotations

from knowledge.base import KnowledgeBase
from knowledge.quality import evaluate, load_cases
from tests.knowledge.conftest import DATA


def test_hybrid_beats_dense_and_bm25_when_keywords_matter(shop_kb: KnowledgeBase) -> None:
    cases = load_cases(DATA / "shop_keyword_queries.json")  # product, error and order codes, brand names
    dense, bm25, hybrid = (evaluate(shop_kb, cases, kb="shop", mode=m) for m in ("dense", "bm25", "hybrid"))
    assert hybrid.hit_at_1 > dense.hit_at_1
    assert hybrid.hit_at_1 > bm25.hit_at_1
    assert hybrid.mrr > max(dense.mrr, bm25.mrr)
    assert "code E4" in bm25.misses and "code E4" not in hybrid.misses  # BM25 ties E4 with E7 answers
    assert "Alma ?" in dense.misses and "Alma ?" not in hybrid.misses  # a brand the embedding ignores


def test_paraphrased_questions_in_english_and_french(shop_kb: KnowledgeBase) -> None:
    cases = load_cases(DATA / "shop_queries.json")
    dense, bm25, hybrid = (evaluate(shop_kb, cases, kb="shop", mode=m) for m in ("dense", "bm25", "hybrid"))
    assert hybrid.hit_at_1 >= dense.hit_at_1 > bm25.hit_at_1
    assert hybrid.hit_at_1 >= 0.8 and hybrid.hit_at_3 >= 0.9
    for language in ("en", "fr"):
        subset = [c for c in cases if c.language == language]
        assert evaluate(shop_kb, subset, kb="shop").hit_at_1 >= 0.75, language
