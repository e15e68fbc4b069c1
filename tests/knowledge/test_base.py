from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import NotFound, ValidationFailed
from knowledge.base import IngestProgress, KnowledgeBase
from knowledge.bm25 import Bm25Index
from knowledge.embeddings import Embedder
from knowledge.store import VectorStore
from tests.knowledge.conftest import CountingEmbedder, make_pdf

GUIDE = """---
language: en
---
# Shipping

We ship from our Lyon warehouse every weekday. Parcels reach mainland France in two days.

## Returns

Unused items can be sent back within 30 days with the prepaid label from your account.

## Refunds

Refunds are paid within 5 working days of receiving the parcel.
"""


def test_reingest_embeds_only_changed_chunks_and_deletes_stale_ones(
    kbase: KnowledgeBase, counting: CountingEmbedder
) -> None:
    first = kbase.ingest_bytes(GUIDE.encode(), filename="guide.md", kb="shop")
    assert (first.chunks, first.embedded, first.unchanged, first.deleted) == (3, 3, 0, 0)
    before = {c.payload["heading_path"]: c.id for c in kbase.store.scroll("shop")}
    counting.texts.clear()

    edited = GUIDE.replace("5 working days", "3 working days").replace(
        "## Returns\n\nUnused items can be sent back within 30 days with the prepaid label from your account.\n\n", ""
    )
    second = kbase.ingest_bytes(edited.encode(), filename="guide.md", kb="shop")
    assert (second.chunks, second.embedded, second.unchanged, second.deleted) == (2, 1, 1, 2)
    assert counting.texts == ["Shipping > Refunds\nRefunds are paid within 3 working days of receiving the parcel."]
    after = {c.payload["heading_path"]: c.id for c in kbase.store.scroll("shop")}
    assert set(after) == {"Shipping", "Shipping > Refunds"}
    assert after["Shipping"] == before["Shipping"]
    assert after["Shipping > Refunds"] != before["Shipping > Refunds"]

    counting.texts.clear()
    third = kbase.ingest_bytes(edited.encode(), filename="guide.md", kb="shop")
    assert (third.embedded, third.unchanged, third.deleted) == (0, 2, 0)
    retagged = kbase.ingest_bytes(edited.encode(), filename="guide.md", kb="shop", tags=["vip"])
    assert (retagged.embedded, retagged.unchanged) == (0, 2)
    assert counting.texts == []
    assert all(p.payload["tags"] == ["vip"] for p in kbase.store.scroll("shop"))
    assert len(kbase.search("refunds", kb="shop", tags=["vip"], k=5)) == 2
    # the BM25 index followed: the removed passage is no longer found by its keywords
    hits = kbase.search("prepaid label", kb="shop", k=5, mode="bm25")
    assert hits == []
    assert kbase.search("3 working days", kb="shop", k=1, mode="bm25")[0].heading_path == "Shipping > Refunds"


def test_ingest_folder_reports_progress_lists_and_deletes_documents(kbase: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "help").mkdir()
    (tmp_path / "help" / "guide.md").write_text(GUIDE)
    (tmp_path / "faq.csv").write_text("question,answer,language,tags\nDo you ship to Spain?,Yes.,en,shipping\n")
    (tmp_path / "manual.pdf").write_bytes(make_pdf(["Descale the KT-410 kettle monthly."]))
    (tmp_path / ".hidden.md").write_text("# Secret\n\nnot ingested")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    events: list[IngestProgress] = []
    results = kbase.ingest_path(tmp_path, kb="shop", tags=["Public"], progress=events.append)
    assert [r.document_id for r in results] == ["faq.csv", "help/guide.md", "manual.pdf"]
    assert [(e.done, e.total, e.document_id) for e in events] == [
        (1, 3, "faq.csv"),
        (2, 3, "help/guide.md"),
        (3, 3, "manual.pdf"),
    ]
    docs = {d.document_id: d for d in kbase.list_documents(kb="shop")}
    assert {k: v.chunks for k, v in docs.items()} == {"faq.csv": 1, "help/guide.md": 3, "manual.pdf": 1}
    assert docs["faq.csv"].tags == ("public", "shipping")
    assert docs["help/guide.md"].languages == ("en",)
    assert docs["manual.pdf"].languages == ("en",)  # from the PDF catalog's /Lang
    assert docs["help/guide.md"].ingested_at is not None
    [pdf_hit] = kbase.search("KT-410", kb="shop", k=1, tags=["public"], language="en")
    assert (pdf_hit.document_id, pdf_hit.page) == ("manual.pdf", 1)

    assert kbase.delete_document(kb="shop", document_id="help/guide.md") == 3
    assert [d.document_id for d in kbase.list_documents(kb="shop")] == ["faq.csv", "manual.pdf"]
    assert all(h.document_id != "help/guide.md" for h in kbase.search("refunds returns", kb="shop", k=5))
    with pytest.raises(NotFound):
        kbase.delete_document(kb="shop", document_id="help/guide.md")


def test_a_bad_file_in_a_folder_ingests_nothing(kbase: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GUIDE)
    (tmp_path / "bad.csv").write_text("question,answer\nA?,yes\nB?,\n")
    (tmp_path / "worse.json").write_text("[{")
    with pytest.raises(ValidationFailed, match="2 files are invalid, nothing was ingested") as caught:
        kbase.ingest_path(tmp_path, kb="shop")
    assert {e["file"] for e in caught.value.errors} == {"bad.csv", "worse.json"}
    assert kbase.list_documents(kb="shop") == []
    with pytest.raises(NotFound):
        kbase.ingest_path(tmp_path / "missing.md", kb="shop")


def test_filters_language_fallback_and_precomputed_vector(shop_kb: KnowledgeBase, embedder: Embedder) -> None:
    fr = shop_kb.search("remboursement", kb="shop", language="fr", k=3)
    assert fr and all(h.language == "fr" and not h.language_fallback for h in fr)
    german = shop_kb.search("Wann bekomme ich mein Geld zurück?", kb="shop", language="de", k=3)
    assert german and all(h.language_fallback for h in german)
    assert german[0].question in ("When will I get my refund?", "Quand serai-je remboursé ?")
    coffee = shop_kb.search("warranty", kb="shop", tags=["coffee"], language="en", k=10)
    assert coffee and all("coffee" in h.tags and h.language == "en" for h in coffee)
    assert {h.question for h in coffee} >= {"How long is the warranty on the CM-300 bean-to-cup machine?"}
    query = "do you take Apple Pay?"
    vector = embedder.embed([query])[0]
    with_vector = shop_kb.search(query, kb="shop", language="en", k=3, query_vector=vector)
    assert [h.chunk_id for h in with_vector] == [
        h.chunk_id for h in shop_kb.search(query, kb="shop", language="en", k=3)
    ]
    top = with_vector[0]
    assert top.question == "Which payment methods do you accept?" and top.answer is not None
    assert 0.0 <= top.score <= 1.0 and top.score == pytest.approx(max(0.0, top.dense_score))
    assert float(np.dot(vector, embedder.embed([top.text])[0])) > 0.3
    assert [h.rank for h in with_vector] == [1, 2, 3]
    assert shop_kb.search(query, kb="empty-kb", k=3) == []


def test_knowledge_base_persists_across_reopen(embedder: Embedder, tmp_path: Path) -> None:
    base = KnowledgeBase(VectorStore(dim=embedder.dim, path=tmp_path / "qdrant"), embedder)
    base.ingest_bytes(GUIDE.encode(), filename="guide.md", kb="shop")
    base.close()
    reopened = KnowledgeBase(VectorStore(dim=embedder.dim, path=tmp_path / "qdrant"), embedder)
    assert [(d.document_id, d.chunks) for d in reopened.list_documents(kb="shop")] == [("guide.md", 3)]
    [hit] = reopened.search("when is my money paid back", kb="shop", k=1)
    assert hit.heading_path == "Shipping > Refunds"
    assert hit.bm25_rank is not None or hit.dense_rank == 1  # the BM25 index was rebuilt from the store
    assert reopened.knowledge_bases() == ["shop"]
    reopened.close()


def test_language_from_caller_then_detector(kbase: KnowledgeBase) -> None:
    kbase.detect_language = lambda text: "de" if "Versand" in text else "en"
    kbase.ingest_bytes(b"Versand in zwei Tagen.", filename="de.txt", kb="shop")
    kbase.ingest_bytes(b"Shipping in two days.", filename="en.txt", kb="shop")
    kbase.ingest_bytes(b"Livraison en deux jours.", filename="fr.txt", kb="shop", language="fr")
    languages = {d.document_id: d.languages for d in kbase.list_documents(kb="shop")}
    assert languages == {"de.txt": ("de",), "en.txt": ("en",), "fr.txt": ("fr",)}
    assert [h.document_id for h in kbase.search("delivery time", kb="shop", language="fr", k=3)] == ["fr.txt"]


def test_searches_and_ingests_from_several_threads(kbase: KnowledgeBase) -> None:
    kbase.ingest_bytes(GUIDE.encode(), filename="guide.md", kb="shop")
    kbase.search("refunds", kb="shop", k=1)  # load the indexes

    def ingest(i: int) -> None:
        kbase.ingest_bytes(f"Note {i}: parcels to island {i} take {i} days.".encode(), filename=f"n{i}.txt", kb="shop")

    def search(i: int) -> int:
        return len(kbase.search("refund within working days", kb="shop", k=3, language="en"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        searches = []
        for i in range(8):  # interleaved: searches run while documents are being ingested
            pool.submit(ingest, i)
            searches += [pool.submit(search, 2 * i), pool.submit(search, 2 * i + 1)]
        counts = [f.result() for f in searches]
    assert all(c >= 1 for c in counts)
    assert len(kbase.list_documents(kb="shop")) == 9
    assert len(kbase.retriever.index("shop").bm25) == kbase.store.count("shop") == 11


def test_a_local_store_is_searched_from_memory_and_follows_ingest(
    kbase: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    kbase.ingest_bytes(GUIDE.encode(), filename="guide.md", kb="shop")
    assert kbase.search("refunds", kb="shop", k=1)  # loads the indexes, payloads included

    def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a local store's payloads are read from memory")

    kbase.ingest_bytes(GUIDE.replace("5 working days", "3 working days").encode(), filename="guide.md", kb="shop",
                       tags=["vip"])
    monkeypatch.setattr(kbase.store, "get", no_reads)
    [hit] = kbase.search("when are refunds paid", kb="shop", k=1, tags=["vip"])
    assert "3 working days" in hit.text and hit.tags == ("vip",) and hit.document_id == "guide.md"
    passages = {p.heading_path: p for p in kbase.passages("shop")}
    assert set(passages) == {"Shipping", "Shipping > Returns", "Shipping > Refunds"}
    assert "3 working days" in passages["Shipping > Refunds"].text and passages["Shipping"].score == 0.0
    monkeypatch.undo()
    kbase.delete_document(kb="shop", document_id="guide.md")
    assert kbase.search("refunds", kb="shop", k=3) == [] and kbase.passages("shop") == []


def test_a_search_asked_again_deeper_is_cut_from_its_ranking(
    kbase: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent searches each question twice (its passages, then deeper those its intent agrees with): the
    second is cut from the first one's ranking, the same hits a new search gives; an ingest drops the ranking."""
    kbase.ingest_bytes(GUIDE.encode(), filename="guide.md", kb="shop")
    rankings: list[str] = []
    search = Bm25Index.search

    def counted(self: Bm25Index, query: str, **kwargs: Any) -> list[tuple[str, float]]:
        rankings.append(query)
        return search(self, query, **kwargs)

    monkeypatch.setattr(Bm25Index, "search", counted)
    query = "when are refunds paid"
    vector = kbase.embedder.embed([query])[0]
    shallow = kbase.search(query, kb="shop", k=1, query_vector=vector)
    deep = kbase.search(query, kb="shop", k=3, query_vector=vector)
    assert len(rankings) == 1 and len(deep) == 3 and deep[:1] == shallow
    assert kbase.search(query, kb="shop", k=3, query_vector=vector, mode="bm25") != deep and len(rankings) == 2
    kbase.retriever.unindexed("shop", [])  # nothing removed, the rankings dropped all the same
    assert kbase.search(query, kb="shop", k=3, query_vector=vector) == deep and len(rankings) == 3
    kbase.ingest_bytes(GUIDE.replace("5 working days", "3 working days").encode(), filename="guide.md", kb="shop")
    [hit] = kbase.search(query, kb="shop", k=1, query_vector=vector)
    assert "3 working days" in hit.text and len(rankings) == 4
