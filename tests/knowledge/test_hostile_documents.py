"""Hostile knowledge documents: each is a clear 422 naming the problem before anything reaches the store, in
bounded time and memory; none is a 500 (docs/security.md, "Files the server parses"). Crafted small here."""

from __future__ import annotations

import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agent.runtime import reset_runtime
from core.errors import ValidationFailed
from knowledge.ingest import MAX_TEXT_CHARS, parse_bytes
from knowledge.ingest.pdf import MAX_PAGES
from tests.helpers import auth_headers


def _pdf(objects: list[bytes]) -> bytes:
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(
        b"%010d 00000 n \n" % o for o in offsets
    )
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def _pdf_of_one_page_listed(times: int) -> bytes:
    """A page tree whose nodes list the next node ``times`` times: ``times ** 2`` pages from one page object."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (Returns take 30 days.) Tj ET")
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" 3 0 R" * times + b"] /Count %d >>" % times**2,
        b"<< /Type /Pages /Kids [" + b" 4 0 R" * times + b"] /Count %d >>" % times,
        b"<< /Type /Page /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 6 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])  # fmt: skip


def _refused(data: bytes, filename: str) -> str:
    with pytest.raises(ValidationFailed) as refused:
        parse_bytes(data, filename=filename)
    return str(refused.value)


def test_deeply_nested_html_is_read() -> None:
    """10,000 nested <div> (a browser shows them) overflowed the recursive walk: a 500."""
    doc = parse_bytes(b"<div>" * 10_000 + b"Returns take 30 days." + b"</div>" * 10_000, filename="deep.html")
    assert [s.text for s in doc.sections] == ["Returns take 30 days."]


def test_html_blocks_and_headings_read_as_before_the_walk_lost_its_recursion() -> None:
    page = (b"<html lang='fr'><body><nav>menu</nav><h1>Livraison</h1><div>Sous <b>48 h</b>.<p>En France.</p>"
            b"Fin</div><script>alert(1)</script><h2>Prix</h2><pre>  5 EUR\n  10 EUR</pre></body></html>")  # fmt: skip
    doc = parse_bytes(page, filename="p.html")
    assert [(s.headings, s.text) for s in doc.sections] == [
        (("Livraison",), "Sous 48 h.\n\nEn France.\n\nFin"),
        (("Livraison", "Prix"), "  5 EUR\n  10 EUR"),
    ]
    assert doc.language == "fr" and doc.title == "Livraison"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"faq": ' * 5_000 + b"1" + b"}" * 5_000, "nested too deeply"),
        (b"[" + b"9" * 5_000 + b"]", "a number has more than 4,300 digits"),
    ],
    ids=["arrays", "objects", "long-number"],
)
def test_hostile_faq_json_is_a_422(data: bytes, said: str) -> None:
    """The decoder's RecursionError and the 4,300-digit guard's ValueError escaped as 500s."""
    assert f"invalid JSON: {said}" in _refused(data, "faq.json")


def _laughs(levels: int) -> str:
    lines = ['a0: &a0 "lollollollollollollollollollol"']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines)


def test_aliases_in_front_matter_are_refused_before_they_are_written_out() -> None:
    """A 500-byte file's ``title: *a7`` took 330 MB once its title was read; ``*a9`` would take 33 GB."""
    document = f"---\n{_laughs(9)}\ntitle: *a9\ntags: *a9\n---\n# Hi\n\nReturns take 30 days.\n".encode()
    tracemalloc.start()
    try:
        said = _refused(document, "laughs.md")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "invalid YAML: aliases (*name) are not allowed" in said and peak < 20 * 1024 * 1024


def test_front_matter_without_aliases_is_read() -> None:
    doc = parse_bytes(b"---\ntitle: Lamp guide\ntags: [lamps, care]\nlanguage: en\n---\n# Bulbs\n\nE27.\n",
                      filename="g.md")  # fmt: skip
    assert (doc.title, doc.tags, doc.language) == ("Lamp guide", ("lamps", "care"), "en")


def test_a_pdf_listing_one_page_more_times_than_a_document_has_pages_is_refused_at_once() -> None:
    """A page tree may name one page object many times: 20,000 of them (a 120 KB file) took 17 s in the request."""
    started = time.monotonic()
    said = _refused(_pdf_of_one_page_listed(50), "many.pdf")  # 2,500 pages
    assert f"the PDF has 2,500 pages; documents take at most {MAX_PAGES:,}" in said
    assert time.monotonic() - started < 2
    assert len(parse_bytes(_pdf_of_one_page_listed(10), filename="ok.pdf").sections) == 100


def test_a_document_holding_more_text_than_an_upload_may_embed_is_refused() -> None:
    """Chunked and embedded inside the request at about 30,000 characters a second: 20 MB held it ten minutes."""
    text = ("Our candles burn for forty hours. " * 3 + "\n\n") * (MAX_TEXT_CHARS // 100)
    said = _refused(text.encode(), "big.txt")
    assert f"documents take at most {MAX_TEXT_CHARS:,}: split it" in said


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    yield app_client
    reset_runtime()


def test_the_upload_route_answers_422_and_stores_nothing(client: TestClient) -> None:
    admin = auth_headers("admin")
    for name, data in [("faq.json", b"[" * 100_000), ("deep.md", f"---\n{_laughs(3)}\ntitle: *a3\n---\nx".encode())]:
        answer = client.post("/api/v1/knowledge/documents", headers=admin, files={"file": (name, data)})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["file"] == name
    assert client.get("/api/v1/knowledge/documents", headers=admin).json() == []
