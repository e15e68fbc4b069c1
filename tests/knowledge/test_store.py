from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.errors import Conflict, ValidationFailed
from knowledge.dense import DenseIndex
from knowledge.store import VectorStore
from knowledge.types import Chunk

DIM = 8


def _chunk(i: int, *, language: str, tags: tuple[str, ...] = ()) -> Chunk:
    return Chunk(
        id=f"00000000-0000-0000-0000-{i:012d}",
        kb="kb1",
        document_id=f"doc{i % 3}",
        source="s",
        title="t",
        headings=("H",),
        text=f"text {i}",
        language=language,
        tags=tags,
        content_hash=f"h{i}",
        position=i,
    )


def _fill(store: VectorStore, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [
        _chunk(i, language="fr" if i % 50 == 0 else "en", tags=("rare",) if i % 97 == 0 else ("common",))
        for i in range(n)
    ]
    store.upsert("kb1", chunks, vectors, ingested_at=datetime(2026, 1, 1, tzinfo=UTC))
    return vectors


def test_dense_index_matches_qdrant_filtered_search(tmp_path: Path) -> None:
    store = VectorStore(dim=DIM, path=tmp_path / "q")
    vectors = _fill(store)
    index = DenseIndex(DIM)
    for point in store.scroll("kb1", with_vectors=True):
        assert point.vector is not None
        index.add(point.id, point.vector, language=point.payload["language"], tags=point.payload["tags"])
    index.remove([_chunk(5, language="en").id])
    store.delete("kb1", [_chunk(5, language="en").id])
    query = vectors[5] + 0.1
    for language, tags in [
        (None, None),
        ("en", None),
        ("fr", None),
        (None, ["rare"]),
        ("fr", ["common"]),
        ("de", None),
    ]:
        expected = store.search("kb1", query, limit=5, language=language, tags=tags)
        got = index.search(query, limit=5, language=language, tags=tags)
        assert [cid for cid, _ in got] == [p.id for p in expected]
        assert [s for _, s in got] == pytest.approx([p.score for p in expected], abs=1e-5)
        assert all(language is None or p.payload["language"] == language for p in expected)
    assert len(index.search(query, limit=500)) == 299
    store.close()


def test_local_store_persists_across_reopen_and_refuses_a_second_owner(tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    store = VectorStore(dim=DIM, path=path)
    vectors = _fill(store, 30)
    with pytest.raises(Conflict, match="used by another process"):
        VectorStore(dim=DIM, path=path)
    store.close()
    reopened = VectorStore(dim=DIM, path=path)
    assert reopened.count("kb1") == 30
    assert reopened.knowledge_bases() == ["kb1"]
    [top] = reopened.search("kb1", vectors[3], limit=1)
    assert top.payload["text"] == "text 3" and top.score == pytest.approx(1.0, abs=1e-5)
    reopened.close()
    wrong_dim = VectorStore(dim=16, path=path)
    with pytest.raises(Conflict, match="holds 8-dimensional vectors but the embedder gives 16"):
        wrong_dim.count("kb1")
    wrong_dim.close()


def test_kb_names_are_checked() -> None:
    store = VectorStore(dim=DIM, location=":memory:")
    for name in ("../etc", "faq\n"):
        with pytest.raises(ValidationFailed, match="invalid knowledge base name"):
            store.collection(name)
    assert store.search("never-created", np.ones(DIM), limit=3) == []
    assert store.count("never-created") == 0
