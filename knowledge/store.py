"""The vector store: Qdrant, one collection per knowledge base, the store of record.

- **local** (default): ``QdrantClient(path=...)`` inside this process. Qdrant's local mode locks its
  folder (a second process fails with "Storage folder is already accessed"), so exactly one process
  owns it; calls are serialised by a lock (the local client is not thread-safe). Local mode also
  ignores payload indexes and evaluates filters point by point in Python, which is why retrieval
  searches an in-memory copy of the vectors in local mode (:mod:`knowledge.dense`) and uses this
  store for payloads and persistence.
- **server** (``url=``, ``RELAIS_QDRANT_URL``): several processes share it; payload indexes on
  ``kb``, ``document_id``, ``language`` and ``tags`` make filtered searches fast, so retrieval
  searches here directly.

A collection per knowledge base keeps one kb's searches from scanning another's vectors and makes
"delete this knowledge base" a single call.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from core.errors import Conflict, ValidationFailed
from core.settings import Settings, get_settings
from knowledge.types import Chunk

VECTOR = "dense"
_KB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_INDEXED = ("kb", "document_id", "language", "tags")
_BATCH = 256


@dataclass(frozen=True)
class StoredPoint:
    """A point as read back: its id, payload, similarity to the query (if searched) and vector."""

    id: str
    payload: dict[str, Any]
    score: float = 0.0
    vector: np.ndarray | None = None


def check_kb_name(kb: str) -> str:
    """Raise ``ValidationFailed`` unless ``kb`` is 1-63 letters, digits, ``-`` or ``_``."""
    if not _KB_NAME.fullmatch(kb):  # match() let "faq\n" through: "$" also matches before a final newline
        raise ValidationFailed(f"invalid knowledge base name {kb!r}: use 1-63 letters, digits, '-' or '_'")
    return kb


def build_filter(
    *, document_id: str | None = None, language: str | None = None, tags: Sequence[str] | None = None
) -> qm.Filter | None:
    must: list[qm.Condition] = []
    if document_id is not None:
        must.append(qm.FieldCondition(key="document_id", match=qm.MatchValue(value=document_id)))
    if language is not None:
        must.append(qm.FieldCondition(key="language", match=qm.MatchValue(value=language)))
    if tags:
        must.append(qm.FieldCondition(key="tags", match=qm.MatchAny(any=list(tags))))
    return qm.Filter(must=must) if must else None


def chunk_payload(chunk: Chunk, ingested_at: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kb": chunk.kb,
        "document_id": chunk.document_id,
        "source": chunk.source,
        "title": chunk.title,
        "headings": list(chunk.headings),
        "heading_path": chunk.heading_path,
        "language": chunk.language,
        "tags": list(chunk.tags),
        "text": chunk.text,
        "content_hash": chunk.content_hash,
        "position": chunk.position,
        "ingested_at": ingested_at.isoformat(),
    }
    if chunk.page is not None:
        payload["page"] = chunk.page
    if chunk.question is not None:
        payload["question"] = chunk.question
        payload["answer"] = chunk.answer
    return payload


def same_payload(stored: dict[str, Any], chunk: Chunk) -> bool:
    """Whether ``stored`` already says everything about ``chunk`` (``ingested_at`` aside)."""
    fresh = chunk_payload(chunk, datetime.min)
    return all(stored.get(key) == value for key, value in fresh.items() if key != "ingested_at") and (
        stored.keys() - {"ingested_at"} == fresh.keys() - {"ingested_at"}
    )


class VectorStore:
    """Qdrant collections ``{prefix}{kb}`` of ``dim``-dimensional cosine vectors named ``dense``.

    Pass ``url`` (and ``api_key``) for a server, else ``path`` for local mode; ``location=":memory:"``
    gives a throw-away in-memory store. Raises ``Conflict`` when the local folder is already
    owned by another process.
    """

    def __init__(
        self,
        *,
        dim: int,
        path: Path | str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        prefix: str = "relais_kb_",
    ) -> None:
        self.dim = dim
        self.prefix = prefix
        self.local = not url
        self._lock = threading.RLock()
        self._known: set[str] = set()
        if url:
            self.client = QdrantClient(url=url, api_key=api_key or None)
        elif location:
            self.client = QdrantClient(location=location)
        else:
            if path is None:
                raise ValueError("VectorStore needs a path, a url or a location")
            Path(path).mkdir(parents=True, exist_ok=True)
            try:
                self.client = QdrantClient(path=str(path))
            except RuntimeError as exc:
                if "already accessed" not in str(exc):
                    raise
                raise Conflict(
                    f"the Qdrant folder {path} is used by another process; only one process may own "
                    "a local store: set RELAIS_QDRANT_URL to share a Qdrant server"
                ) from exc

    @classmethod
    def from_settings(cls, *, dim: int, settings: Settings | None = None) -> VectorStore:
        """A server store when ``RELAIS_QDRANT_URL`` is set, else local under ``data_dir/qdrant``."""
        s = settings or get_settings()
        if s.qdrant_url:
            return cls(dim=dim, url=s.qdrant_url, api_key=s.qdrant_api_key)
        return cls(dim=dim, path=s.qdrant_path)

    def close(self) -> None:
        with self._lock:
            self.client.close()

    def collection(self, kb: str) -> str:
        return self.prefix + check_kb_name(kb)

    def knowledge_bases(self) -> list[str]:
        with self._lock:
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n[len(self.prefix) :] for n in names if n.startswith(self.prefix))

    def exists(self, kb: str) -> bool:
        name = self.collection(kb)
        if name in self._known:
            return True
        with self._lock:
            found = self.client.collection_exists(name)
        if found:
            self._check_dim(name)
            self._tune_local_persistence(name)
            self._known.add(name)
        return found

    def ensure(self, kb: str) -> None:
        """Create the knowledge base's collection (and, on a server, its payload indexes) if missing."""
        if self.exists(kb):
            return
        name = self.collection(kb)
        with self._lock:
            self.client.create_collection(
                name, vectors_config={VECTOR: qm.VectorParams(size=self.dim, distance=qm.Distance.COSINE)}
            )
            if not self.local:  # local mode ignores payload indexes (and warns)
                for field in _INDEXED:
                    self.client.create_payload_index(name, field, qm.PayloadSchemaType.KEYWORD)
        self._tune_local_persistence(name)
        self._known.add(name)

    def _tune_local_persistence(self, name: str) -> None:
        """Put local mode's SQLite file in WAL mode with ``synchronous=NORMAL``.

        Local Qdrant commits every point in its own transaction; with SQLite's default journal each
        commit waits for several fsyncs (~17 ms on this machine, 60 points/s). WAL + NORMAL keeps
        the file consistent after a crash (a power cut may lose the last commits, which re-ingest
        restores) and upserts go ~20x faster. The attributes are private to qdrant-client, so a
        client that has changed them is left alone.
        """
        collection = getattr(getattr(self.client, "_client", None), "collections", {}).get(name)
        connection = getattr(getattr(collection, "storage", None), "storage", None)
        if isinstance(connection, sqlite3.Connection):
            with self._lock:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")

    def _check_dim(self, name: str) -> None:
        with self._lock:
            params = self.client.get_collection(name).config.params.vectors
        size = params[VECTOR].size if isinstance(params, dict) and VECTOR in params else None
        if size != self.dim:
            raise Conflict(
                f"collection {name} holds {size}-dimensional vectors but the embedder gives {self.dim}: "
                "re-ingest into a new knowledge base or switch back to the embedder it was built with"
            )

    def drop(self, kb: str) -> None:
        name = self.collection(kb)
        with self._lock:
            self.client.delete_collection(name)
        self._known.discard(name)

    def count(self, kb: str) -> int:
        if not self.exists(kb):
            return 0
        with self._lock:
            return self.client.count(self.collection(kb), exact=True).count

    def upsert(self, kb: str, chunks: Sequence[Chunk], vectors: np.ndarray, *, ingested_at: datetime) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        self.ensure(kb)
        name = self.collection(kb)
        for start in range(0, len(chunks), _BATCH):
            part = chunks[start : start + _BATCH]
            batch = qm.Batch(
                ids=[c.id for c in part],
                vectors={VECTOR: vectors[start : start + len(part)].tolist()},
                payloads=[chunk_payload(c, ingested_at) for c in part],
            )
            with self._lock:
                self.client.upsert(name, batch, wait=True)

    def delete(self, kb: str, ids: Sequence[str]) -> None:
        if not ids or not self.exists(kb):
            return
        with self._lock:
            self.client.delete(self.collection(kb), qm.PointIdsList(points=list(ids)), wait=True)

    def get(self, kb: str, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        """Points by id (missing ids are skipped), with their vectors when asked."""
        if not ids or not self.exists(kb):
            return []
        with self._lock:
            records = self.client.retrieve(
                self.collection(kb), ids=list(ids), with_payload=True, with_vectors=[VECTOR] if with_vectors else False
            )
        return [
            StoredPoint(str(r.id), r.payload or {}, vector=_vector(r.vector) if with_vectors else None) for r in records
        ]

    def scroll(
        self,
        kb: str,
        *,
        fields: Sequence[str] | None = None,
        document_id: str | None = None,
        with_vectors: bool = False,
    ) -> Iterator[StoredPoint]:
        """Every point of ``kb`` (of one document if given), with only ``fields`` of the payload."""
        if not self.exists(kb):
            return
        name = self.collection(kb)
        flt = build_filter(document_id=document_id)
        offset: Any = None
        while True:
            with self._lock:
                records, offset = self.client.scroll(
                    name,
                    scroll_filter=flt,
                    limit=2048,
                    offset=offset,
                    with_payload=list(fields) if fields is not None else True,
                    with_vectors=[VECTOR] if with_vectors else False,
                )
            for r in records:
                yield StoredPoint(str(r.id), r.payload or {}, vector=_vector(r.vector) if with_vectors else None)
            if offset is None:
                return

    def search(
        self,
        kb: str,
        vector: np.ndarray,
        *,
        limit: int,
        language: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> list[StoredPoint]:
        """The ``limit`` nearest points by cosine, best first, restricted to ``language`` / any of ``tags``."""
        if not self.exists(kb):
            return []
        with self._lock:
            result = self.client.query_points(
                self.collection(kb),
                query=np.asarray(vector, dtype=np.float32).tolist(),
                using=VECTOR,
                limit=limit,
                query_filter=build_filter(language=language, tags=tags),
                with_payload=True,
            )
        return [StoredPoint(str(p.id), p.payload or {}, score=float(p.score)) for p in result.points]


def _vector(raw: Any) -> np.ndarray:
    values = raw[VECTOR] if isinstance(raw, dict) else raw
    return np.asarray(values, dtype=np.float32)
