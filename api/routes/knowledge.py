"""Knowledge base: list, upload and delete documents (admin), search them (agents, analysts).

The store belongs to this process's agent runtime (Qdrant local mode allows one process).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from agent.runtime import DEFAULT_KB, get_runtime
from api.deps import actor, db_session, require
from core import audit
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import PayloadTooLarge
from core.rbac import Role

router = APIRouter(prefix="/api/v1", tags=["knowledge"])

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class DocumentOut(BaseModel):
    kb: str
    document_id: str
    source: str
    title: str
    chunks: int
    languages: list[str]
    tags: list[str]
    ingested_at: datetime | None


class IngestOut(BaseModel):
    kb: str
    document_id: str
    chunks: int
    embedded: int
    unchanged: int
    deleted: int


class SearchIn(RequestBody):
    query: str = Field(min_length=1, max_length=1600)
    kb: str = DEFAULT_KB
    language: str | None = None
    tags: list[str] | None = None
    k: int = Field(5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class HitOut(BaseModel):
    rank: int
    chunk_id: str
    document_id: str
    title: str
    headings: list[str]
    text: str
    language: str
    tags: list[str]
    score: float
    dense_score: float
    bm25_score: float
    question: str | None
    answer: str | None
    language_fallback: bool


@router.get("/knowledge/documents", response_model=list[DocumentOut])
def list_documents(
    kb: str = DEFAULT_KB, _: Principal = Depends(require(Role.AGENT, Role.ANALYST, Role.MARKETER))
) -> list[DocumentOut]:
    return [
        DocumentOut(
            kb=d.kb,
            document_id=d.document_id,
            source=d.source,
            title=d.title,
            chunks=d.chunks,
            languages=list(d.languages),
            tags=list(d.tags),
            ingested_at=d.ingested_at,
        )
        for d in get_runtime().knowledge.list_documents(kb=kb)
    ]


@router.post("/knowledge/documents", response_model=IngestOut, status_code=201)
def upload_document(
    request: Request,
    file: UploadFile = File(...),
    kb: str = Form(DEFAULT_KB, max_length=63),
    document_id: str | None = Form(None, max_length=200),
    tags: str = Form("", max_length=2000, description="Comma-separated tags."),
    language: str | None = Form(None, max_length=16),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
) -> IngestOut:
    """Ingest (or re-ingest: unchanged chunks keep their vectors, stale ones go) one file."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)  # a plain def: the read, ingestion and audit run off the event loop
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"documents are limited to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    result = get_runtime().knowledge.ingest_bytes(
        data,
        filename=file.filename or "upload.txt",
        kb=kb,
        document_id=document_id or None,
        tags=[t.strip() for t in tags.split(",") if t.strip()],
        language=language or None,
    )
    audit.record(
        session,
        actor=actor(request, principal),
        action="knowledge.ingest",
        target_type="document",
        target_id=f"{kb}/{result.document_id}",
        diff={"chunks": result.chunks, "deleted": result.deleted},
    )
    return IngestOut(
        kb=result.kb,
        document_id=result.document_id,
        chunks=result.chunks,
        embedded=result.embedded,
        unchanged=result.unchanged,
        deleted=result.deleted,
    )


@router.delete("/knowledge/documents/{document_id:path}", status_code=204)
def delete_document(
    document_id: str,
    request: Request,
    kb: str = DEFAULT_KB,
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(require()),
) -> None:
    removed = get_runtime().knowledge.delete_document(kb=kb, document_id=document_id)
    audit.record(
        session,
        actor=actor(request, principal),
        action="knowledge.delete",
        target_type="document",
        target_id=f"{kb}/{document_id}",
        diff={"chunks": removed},
    )


@router.post("/knowledge/search", response_model=list[HitOut])
def search(body: SearchIn, _: Principal = Depends(require(Role.AGENT, Role.ANALYST))) -> list[HitOut]:
    hits = get_runtime().knowledge.search(
        body.query,
        kb=body.kb,
        language=body.language,
        tags=body.tags,
        k=body.k,
        mode=body.mode,
    )
    return [
        HitOut(
            rank=h.rank,
            chunk_id=h.chunk_id,
            document_id=h.document_id,
            title=h.title,
            headings=list(h.headings),
            text=h.text,
            language=h.language,
            tags=list(h.tags),
            score=h.score,
            dense_score=h.dense_score,
            bm25_score=h.bm25_score,
            question=h.question,
            answer=h.answer,
            language_fallback=h.language_fallback,
        )
        for h in hits
    ]
