from __future__ import annotations

from knowledge.bm25 import Bm25Index, tokenize


def test_tokens_fold_accents_drop_stop_words_and_join_codes() -> None:
    assert tokenize("Où est ma commande ML-204518 ?") == ["commande", "ml", "204518", "ml204518"]
    assert tokenize("Returns and REFUNDS") == ["return", "refund"]
    assert "kt410" in tokenize("the KT-410 kettle") and "kt410" in tokenize("KT410")


def test_ranking_filters_and_removal() -> None:
    index = Bm25Index()
    index.add("a", "Descale the KT-410 kettle with vinegar", language="en", tags=["kettle"])
    index.add("b", "Descale the coffee machine", language="en", tags=["coffee"])
    index.add("c", "Détartrer la bouilloire KT-410", language="fr", tags=["kettle"])
    assert [cid for cid, _ in index.search("KT410 descale", limit=3)] == ["a", "b", "c"]
    assert [cid for cid, _ in index.search("KT410", limit=3, language="fr")] == ["c"]
    assert [cid for cid, _ in index.search("descale", limit=3, tags=["coffee"])] == ["b"]
    assert index.search("nothing matches", limit=3) == []
    scores = index.scores("KT410 descale", ["a", "b", "zzz"])
    assert scores["a"] > scores["b"] > 0 and "zzz" not in scores
    index.remove(["a", "missing"])
    assert "a" not in index and len(index) == 2
    assert [cid for cid, _ in index.search("KT410", limit=3)] == ["c"]
    index.add("c", "replaced text", language="fr")
    assert index.search("KT410", limit=3) == []
    assert 0 < index.query_weight("replaced") < index.query_weight("replaced unknownword")
