"""Knowledge fixtures: the real multilingual embedder and real Qdrant stores (in memory or on disk)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge.base import KnowledgeBase
from knowledge.embeddings import Embedder, get_embedder
from knowledge.store import VectorStore

DATA = Path(__file__).parent / "data"


class CountingEmbedder(Embedder):
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder("use-multilingual")


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture
def kbase(counting: CountingEmbedder) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(VectorStore(dim=counting.dim, location=":memory:"), counting)
    yield base
    base.close()


@pytest.fixture(scope="session")
def shop_kb(embedder: Embedder) -> Iterator[KnowledgeBase]:
    """The bilingual shop FAQ, ingested once for the read-only retrieval tests."""
    base = KnowledgeBase(VectorStore(dim=embedder.dim, location=":memory:"), embedder)
    base.ingest_path(DATA / "shop_faq.csv", kb="shop")
    yield base
    base.close()


def make_pdf(pages: Sequence[str], *, title: str | None = None) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    info = f"/Title ({title})" if title else ""
    objects.append(b"<< /Type /Catalog /Pages 2 0 R /Lang (en-GB) >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(f"<< {info} >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
