"""``knowledge/documents`` (list, upload, delete) and ``knowledge/search`` over the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from agent.runtime import reset_runtime
from core import db
from core.models import AuditEntry
from tests.helpers import auth_headers

GUIDE = b"""---
title: Lamp guide
language: en
tags: [lamps]
---
# Bulbs

Our lamps take E27 LED bulbs of at most 8 W. Bulbs are sold separately.

# Cleaning

Dust the lampshade with a dry soft brush once a week.
"""


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    yield app_client
    reset_runtime()


def test_upload_list_search_reingest_delete(client: TestClient) -> None:
    admin = auth_headers("admin")
    uploaded = client.post("/api/v1/knowledge/documents", headers=admin,
                           files={"file": ("lamps.md", GUIDE, "text/markdown")}, data={"tags": "guides"})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json() == {"kb": "default", "document_id": "lamps.md", "chunks": 2, "embedded": 2,
                               "unchanged": 0, "deleted": 0}

    documents = client.get("/api/v1/knowledge/documents", headers=auth_headers("agent")).json()
    assert [(d["document_id"], d["chunks"], d["languages"]) for d in documents] == [("lamps.md", 2, ["en"])]
    assert set(documents[0]["tags"]) == {"lamps", "guides"}

    hits = client.post("/api/v1/knowledge/search", headers=auth_headers("analyst"),
                       json={"query": "which bulb for my lamp?", "k": 2}).json()
    assert hits[0]["rank"] == 1 and "E27" in hits[0]["text"] and hits[0]["headings"] == ["Bulbs"]
    assert 0 < hits[0]["score"] <= 1

    changed = GUIDE.replace(b"once a week", b"every month")
    again = client.post("/api/v1/knowledge/documents", headers=admin,
                        files={"file": ("lamps.md", changed, "text/markdown")}, data={"tags": "guides"}).json()
    assert (again["unchanged"], again["embedded"], again["deleted"]) == (1, 1, 1)

    assert client.delete("/api/v1/knowledge/documents/lamps.md", headers=admin).status_code == 204
    assert client.get("/api/v1/knowledge/documents", headers=admin).json() == []
    assert client.delete("/api/v1/knowledge/documents/lamps.md", headers=admin).status_code == 404
    with db.session_scope() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("knowledge.ingest") == 2 and actions.count("knowledge.delete") == 1


def test_bad_uploads_and_roles(client: TestClient) -> None:
    admin = auth_headers("admin")
    bad = client.post("/api/v1/knowledge/documents", headers=admin,
                      files={"file": ("faq.csv", b"question,answer\n,missing\n", "text/csv")})
    assert bad.status_code == 422 and "faq.csv" in bad.json()["detail"]
    unsupported = client.post("/api/v1/knowledge/documents", headers=admin,
                              files={"file": ("x.exe", b"MZ", "application/octet-stream")})
    assert unsupported.status_code == 422
    assert client.post("/api/v1/knowledge/documents", headers=auth_headers("agent"),
                       files={"file": ("a.md", GUIDE, "text/markdown")}).status_code == 403
    assert client.post("/api/v1/knowledge/search", headers=auth_headers("marketer"),
                       json={"query": "x"}).status_code == 403
    assert client.get("/api/v1/knowledge/documents", headers=auth_headers("marketer")).status_code == 200
    assert client.post("/api/v1/knowledge/search", headers=auth_headers("agent"),
                       json={"query": "x", "kb": "bad name!"}).status_code == 422
