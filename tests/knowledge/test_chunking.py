from __future__ import annotations

import itertools
import re

from knowledge.chunking import chunk_document, chunk_id, split_text
from knowledge.ingest import parse_bytes
from knowledge.types import FaqEntry, ParsedDocument, Section


def _sentences(n: int, words: int = 12) -> str:
    return " ".join(f"Sentence {i} " + " ".join(f"w{i}x{j}" for j in range(words - 3)) + " end." for i in range(n))


def test_short_text_is_one_chunk() -> None:
    assert split_text("One sentence. Two sentences.") == ["One sentence. Two sentences."]
    assert split_text("") == []


def test_long_text_is_cut_on_sentence_boundaries_within_bounds_with_overlap() -> None:
    pieces = split_text(_sentences(60), min_words=80, max_words=200, overlap_words=30)  # 720 words
    assert len(pieces) >= 4
    for piece in pieces:
        assert 80 <= len(piece.split()) <= 200
        assert piece.startswith("Sentence ") and piece.endswith("end.")
    for before, after in itertools.pairwise(pieces):
        first_of_next = re.match(r"Sentence \d+ [^.]*end\.", after)
        assert first_of_next is not None and first_of_next.group(0) in before  # overlap
    all_sentences = {f"Sentence {i} " for i in range(60)}
    assert all(any(s in p for p in pieces) for s in all_sentences)


def test_no_tiny_tail_chunk() -> None:
    pieces = split_text(_sentences(18), min_words=80, max_words=200, overlap_words=0)  # 216 words
    assert [len(p.split()) >= 80 for p in pieces] == [True, True]


def test_a_huge_sentence_is_cut_between_words() -> None:
    pieces = split_text(" ".join(["word"] * 450), max_words=200, overlap_words=0)
    assert [len(p.split()) for p in pieces] == [150, 150, 150]


def test_paragraph_breaks_survive_inside_a_chunk() -> None:
    assert split_text("First para.\n\nSecond para. Same para.") == ["First para.\n\nSecond para. Same para."]


def test_chunks_keep_heading_path_and_stable_ids() -> None:
    doc = parse_bytes(b"# Shipping\n\nFast.\n\n## Returns\n\nThirty days.", filename="help.md")
    first = chunk_document(doc, kb="shop", document_id="help.md")
    again = chunk_document(doc, kb="shop", document_id="help.md")
    assert [c.heading_path for c in first] == ["Shipping", "Shipping > Returns"]
    assert [c.id for c in first] == [c.id for c in again]
    assert first[1].id == chunk_id("shop", "help.md", first[1].content_hash)
    assert first[1].embed_text == "Shipping > Returns\nThirty days."
    other_kb = chunk_document(doc, kb="other", document_id="help.md")
    assert {c.id for c in other_kb}.isdisjoint(c.id for c in first)


def test_language_comes_from_row_then_document_then_caller_then_detector() -> None:
    doc = ParsedDocument(
        source="faq.csv",
        title="FAQ",
        kind="faq",
        faq=(FaqEntry("Q1?", "A1", row=2, language="de"), FaqEntry("Q2?", "A2", row=3)),
        sections=(Section((), "Some prose."),),
    )
    chunks = chunk_document(doc, kb="k", document_id="d", language="it", detect_language=lambda _t: "pt")
    assert [c.language for c in chunks] == ["de", "it", "it"]
    with_doc_language = ParsedDocument(**{**doc.__dict__, "language": "es"})
    assert [c.language for c in chunk_document(with_doc_language, kb="k", document_id="d")] == ["de", "es", "es"]
    detected = chunk_document(doc, kb="k", document_id="d", detect_language=lambda t: "fr" if "prose" in t else "en")
    assert [c.language for c in detected] == ["de", "en", "fr"]
    assert [c.language for c in chunk_document(doc, kb="k", document_id="d")] == ["de", "und", "und"]


def test_faq_chunks_keep_question_answer_and_merge_tags() -> None:
    doc = ParsedDocument(
        source="faq.csv",
        title="FAQ",
        kind="faq",
        faq=(FaqEntry("Q1?", "A1", row=2, tags=("returns",)), FaqEntry("Q1?", "A1", row=3)),
        tags=("shop",),
    )
    chunks = chunk_document(doc, kb="k", document_id="d", tags=["Promo"])
    assert len(chunks) == 1  # the duplicate row is dropped
    chunk = chunks[0]
    assert (chunk.question, chunk.answer, chunk.text) == ("Q1?", "A1", "Q1?\nA1")
    assert chunk.tags == ("shop", "promo", "returns")
    assert chunk.embed_text == "Q1?\nA1"
