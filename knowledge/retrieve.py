"""Hybrid retrieval: dense nearest neighbours + in-process BM25, fused.

Dense candidates come from the in-memory copy of the vectors in local mode, from the Qdrant server
otherwise. The candidates are the union of the two top-``candidates`` lists; every candidate gets
both its exact cosine and its exact BM25 score. Hits are then ordered by ``fused_score``:

- ``fusion="linear"`` (default): ``cosine + bm25_weight * min(1, bm25 / query_weight)``, where
  ``query_weight`` is the summed IDF of the query terms, so the keyword part is the share of the
  query's keyword weight the chunk matches. A rare token (an order number, a product code, an
  error code) then lifts the right chunk over look-alikes, while paraphrases, where keywords say
  little, stay ordered by meaning.
- ``fusion="rrf"``: reciprocal rank fusion, ``sum(weight / (rrf_k + rank))`` over both lists.

bench/knowledge.py compares them (docs/knowledge.md has the figures): on paraphrased FAQ questions
equal-weight RRF fell below dense-only, because BM25 is weak there and RRF lets its rank-1 hit
override dense's near-ties; the linear fusion never did worse than dense and fixed some of the
keyword misses. ``Hit.score`` is the number to threshold in either case: the query/chunk cosine, clipped
to [0, 1].

Language: with ``language`` set, only chunks in that language are searched; when the knowledge base
has none (under the tag filter), the search is repeated over every language and the hits carry
``language_fallback=True``.

In local mode the hits' payloads come from memory too: reading them back from local Qdrant cost
about 11 ms per search on the loaded 2-core host (a Python copy of each payload), the largest part
of a search once the query is embedded.

The last few searches' rankings are kept per knowledge base (:data:`RECENT_SEARCHES`): the same
search asked again, deeper or not, is cut from the kept ranking (a search's top ``k`` is the first
``k`` of its deeper ranking). The agent searches each question twice, for its passages and, deeper,
for those its intent agrees with (``agent.pipeline.intent_passages``); the second was a whole search
again (docs/benchmark-log.md, 2026-11-30 22:50). Only a few are kept, so a customer's text asked before
(a benchmark's repeated questions) is searched again: the point is a question's own second search.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from knowledge.bm25 import Bm25Index
from knowledge.dense import DenseIndex
from knowledge.embeddings import Embedder
from knowledge.store import StoredPoint, VectorStore, chunk_payload
from knowledge.types import Chunk, Hit, embed_text

Mode = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["linear", "rrf"]
_INDEX_FIELDS = ("title", "headings", "text", "language", "tags", "question")
#: Searches whose ranking a knowledge base's index keeps (a question's two searches, with room to spare).
RECENT_SEARCHES = 8


def _payload_embed_text(payload: dict[str, Any]) -> str:
    return embed_text(
        payload.get("title", ""),
        tuple(payload.get("headings") or ()),
        payload.get("text", ""),
        faq=payload.get("question") is not None,
    )


@dataclass(frozen=True)
class _Ranked:
    """One search's candidates in fused order, each ``(chunk_id, cosine, bm25, fused, dense_rank, bm25_rank)``,
    with their stored points and whether the search fell back to every language: any ``k`` of its hits."""

    order: list[tuple[str, float, float, float, int | None, int | None]]
    points: dict[str, StoredPoint]
    fallback: bool


_SearchKey = tuple[str, str | None, tuple[str, ...] | None, str, bytes]


@dataclass
class KbIndex:
    """The in-process indexes of one knowledge base: BM25 always; in local mode the vectors and
    the payloads too (this process is the store's only writer, so they cannot go stale); the
    rankings of its last searches, dropped whenever a chunk is indexed or unindexed."""

    bm25: Bm25Index
    dense: DenseIndex | None
    built_at: float
    payloads: dict[str, dict[str, Any]] | None = None
    recent: OrderedDict[_SearchKey, _Ranked] = field(default_factory=OrderedDict)


class Retriever:
    """Searches a :class:`VectorStore` and keeps in-process indexes per knowledge base.

    The indexes of a kb are built from the store on its first search and then kept current by
    :meth:`indexed` / :meth:`unindexed`, which the ingest path calls. With a local store this
    process is the only writer, so they never go stale, and dense candidates come from the
    in-memory :class:`DenseIndex` (exact, and far faster than local Qdrant, filters included). With
    a server store another process may write, so dense search goes to the server and the BM25 index
    is rebuilt when older than ``refresh_seconds`` (60 s by default).
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        candidates: int = 20,
        fusion: Fusion = "linear",
        bm25_weight: float = 0.1,
        rrf_k: int = 60,
        refresh_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.fusion: Fusion = fusion
        self.bm25_weight = bm25_weight
        self.rrf_k = rrf_k
        self.refresh_seconds = refresh_seconds if refresh_seconds is not None else (None if store.local else 60.0)
        self._indexes: dict[str, KbIndex] = {}
        self._lock = threading.RLock()

    def index(self, kb: str) -> KbIndex:
        """The kb's indexes, built from the store's payloads (and vectors, in local mode) if needed."""
        with self._lock:
            entry = self._indexes.get(kb)
            if entry is not None and (
                self.refresh_seconds is None or time.monotonic() - entry.built_at < self.refresh_seconds
            ):
                return entry
            local = self.store.local
            entry = KbIndex(Bm25Index(), DenseIndex(self.store.dim) if local else None, time.monotonic(),
                            {} if local else None)
            for point in self.store.scroll(kb, fields=None if local else _INDEX_FIELDS, with_vectors=local):
                language = point.payload.get("language", "")
                tags = point.payload.get("tags") or ()
                entry.bm25.add(point.id, _payload_embed_text(point.payload), language=language, tags=tags)
                if entry.dense is not None and point.vector is not None:
                    entry.dense.add(point.id, point.vector, language=language, tags=tags)
                if entry.payloads is not None:
                    entry.payloads[point.id] = point.payload
            self._indexes[kb] = entry
            return entry

    def indexed(self, kb: str, chunks: Sequence[Chunk], vectors: np.ndarray, *, ingested_at: datetime) -> None:
        """Chunks were upserted with these vectors (at ``ingested_at``): (re)index them if the kb's
        indexes are loaded."""
        with self._lock:
            entry = self._indexes.get(kb)
            if entry is not None:
                entry.recent.clear()
                for chunk, vector in zip(chunks, vectors, strict=True):
                    entry.bm25.add(chunk.id, chunk.embed_text, language=chunk.language, tags=chunk.tags)
                    if entry.dense is not None:
                        entry.dense.add(chunk.id, vector, language=chunk.language, tags=chunk.tags)
                    if entry.payloads is not None:
                        entry.payloads[chunk.id] = chunk_payload(chunk, ingested_at)

    def unindexed(self, kb: str, chunk_ids: Sequence[str]) -> None:
        """Chunks were deleted: drop them from the kb's indexes if they are loaded."""
        with self._lock:
            entry = self._indexes.get(kb)
            if entry is not None:
                entry.recent.clear()
                entry.bm25.remove(chunk_ids)
                if entry.dense is not None:
                    entry.dense.remove(chunk_ids)
                if entry.payloads is not None:
                    for chunk_id in chunk_ids:
                        entry.payloads.pop(chunk_id, None)

    def search(
        self,
        query: str,
        *,
        kb: str,
        language: str | None = None,
        tags: Sequence[str] | None = None,
        k: int = 5,
        query_vector: np.ndarray | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best chunks of ``kb`` for ``query``, best first (``rank`` 1..k).

        ``query_vector`` (a unit vector from the same embedder) saves embedding the query again.
        ``tags`` keeps chunks carrying any of them. ``mode`` restricts to one list (for comparison).
        """
        vector = (
            np.asarray(query_vector, dtype=np.float32) if query_vector is not None else self.embedder.embed([query])[0]
        )
        with self._lock:  # an ingest in another thread must not change the indexes mid-search
            index = self.index(kb)
            key = (query, language, tuple(tags) if tags is not None else None, mode, vector.tobytes())
            ranked = index.recent.get(key)
            if ranked is None:
                dense, sparse = self._lists(query, vector, kb, index, language, tags, mode)
                fallback = False
                if language is not None and not (dense if mode != "bm25" else sparse):
                    dense, sparse = self._lists(query, vector, kb, index, None, tags, mode)
                    fallback = True
                ranked = self._fuse(query, kb, vector, index, dense, sparse, mode, fallback)
                index.recent[key] = ranked
                while len(index.recent) > RECENT_SEARCHES:
                    index.recent.popitem(last=False)
            else:
                index.recent.move_to_end(key)
        return [
            payload_hit(cid, kb, ranked.points[cid].payload, rank=rank, score=min(1.0, max(0.0, cosine)),
                        dense_score=cosine, bm25_score=bm25, fused_score=fused, dense_rank=dense_rank,
                        bm25_rank=bm25_rank, language_fallback=ranked.fallback)
            for rank, (cid, cosine, bm25, fused, dense_rank, bm25_rank) in enumerate(ranked.order[:k], start=1)
        ]

    def _lists(
        self,
        query: str,
        vector: np.ndarray,
        kb: str,
        index: KbIndex,
        language: str | None,
        tags: Sequence[str] | None,
        mode: Mode,
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        dense: list[tuple[str, float]] = []
        if mode != "bm25":
            if index.dense is not None:
                dense = index.dense.search(vector, limit=self.candidates, language=language, tags=tags)
            else:
                found = self.store.search(kb, vector, limit=self.candidates, language=language, tags=tags)
                dense = [(p.id, p.score) for p in found]
        sparse = (
            index.bm25.search(query, limit=self.candidates, language=language, tags=tags) if mode != "dense" else []
        )
        return dense, sparse

    def _fuse(
        self,
        query: str,
        kb: str,
        vector: np.ndarray,
        index: KbIndex,
        dense: list[tuple[str, float]],
        sparse: list[tuple[str, float]],
        mode: Mode,
        fallback: bool,
    ) -> _Ranked:
        cosine = dict(dense)
        ids = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in sparse]))
        if index.payloads is not None:
            points = {cid: StoredPoint(cid, index.payloads[cid]) for cid in ids if cid in index.payloads}
        else:
            need_vectors = index.dense is None and any(cid not in cosine for cid in ids)
            points = {p.id: p for p in self.store.get(kb, ids, with_vectors=need_vectors)}
        # a chunk deleted by another process since the indexes were built is not in ``points``
        for cid, point in points.items():
            if cid not in cosine:
                stored = index.dense.vector(cid) if index.dense is not None else point.vector
                cosine[cid] = float(np.dot(vector, stored)) if stored is not None else 0.0
        bm25 = index.bm25.scores(query, points) if mode != "dense" else {}
        dense_rank = {cid: rank for rank, (cid, _) in enumerate(dense, start=1)}
        bm25_rank = {cid: rank for rank, (cid, _) in enumerate(sparse, start=1) if cid in points}
        fused = self._fused(query, index.bm25, points, cosine, bm25, dense_rank, bm25_rank, mode)
        order = sorted(points, key=lambda cid: (-fused[cid], -cosine[cid]))
        return _Ranked([(cid, cosine[cid], bm25.get(cid, 0.0), fused[cid], dense_rank.get(cid), bm25_rank.get(cid))
                        for cid in order], points, fallback)

    def passages(self, kb: str) -> list[Hit]:
        """Every chunk of ``kb`` as an unscored hit (rank and scores 0): what answers are cut from,
        for a caller preparing its own per-passage work ahead of the questions."""
        with self._lock:
            payloads = self.index(kb).payloads
            items = list(payloads.items()) if payloads is not None else None
        if items is None:
            items = [(point.id, point.payload) for point in self.store.scroll(kb)]
        return [payload_hit(cid, kb, payload, rank=0, score=0.0, dense_score=0.0, bm25_score=0.0, fused_score=0.0)
                for cid, payload in items]

    def _fused(
        self,
        query: str,
        index: Bm25Index,
        points: dict[str, StoredPoint],
        cosine: dict[str, float],
        bm25: dict[str, float],
        dense_rank: dict[str, int],
        bm25_rank: dict[str, int],
        mode: Mode,
    ) -> dict[str, float]:
        if mode == "dense":
            return cosine
        if mode == "bm25":
            return {cid: bm25.get(cid, 0.0) for cid in points}
        if self.fusion == "rrf":
            return {
                cid: (1.0 / (self.rrf_k + dense_rank[cid]) if cid in dense_rank else 0.0)
                + (self.bm25_weight / (self.rrf_k + bm25_rank[cid]) if cid in bm25_rank else 0.0)
                for cid in points
            }
        weight = index.query_weight(query)
        return {
            cid: cosine[cid] + (self.bm25_weight * min(1.0, bm25.get(cid, 0.0) / weight) if weight else 0.0)
            for cid in points
        }


def payload_hit(chunk_id: str, kb: str, payload: dict[str, Any], *, rank: int, score: float, dense_score: float,
                bm25_score: float, fused_score: float, dense_rank: int | None = None, bm25_rank: int | None = None,
                language_fallback: bool = False) -> Hit:
    """The :class:`Hit` of a stored chunk's payload with these scores."""
    return Hit(
        chunk_id=chunk_id,
        kb=kb,
        document_id=payload.get("document_id", ""),
        source=payload.get("source", ""),
        title=payload.get("title", ""),
        headings=tuple(payload.get("headings") or ()),
        text=payload.get("text", ""),
        language=payload.get("language", ""),
        tags=tuple(payload.get("tags") or ()),
        rank=rank,
        score=score,
        dense_score=dense_score,
        bm25_score=bm25_score,
        fused_score=fused_score,
        dense_rank=dense_rank,
        bm25_rank=bm25_rank,
        question=payload.get("question"),
        answer=payload.get("answer"),
        page=payload.get("page"),
        language_fallback=language_fallback,
    )
