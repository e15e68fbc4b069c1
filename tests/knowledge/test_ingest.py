from __future__ import annotations

import json

import pytest

from core.errors import ValidationFailed
from knowledge.ingest import parse_bytes, parse_path
from tests.knowledge.conftest import DATA, make_pdf

MARKDOWN = """---
title: Help centre
language: fr-FR
tags: [Shipping, returns]
---
# Shipping

We ship **worldwide** from [Lyon](https://example.com).

## Returns

Items can be returned within 30 days.

| Country | Days |
|---|---|
| France | 30 |

### Refunds

```
refund --order ML204518
```

# Payment

Visa and PayPal.
"""


def test_markdown_keeps_heading_paths_and_front_matter() -> None:
    doc = parse_bytes(MARKDOWN.encode(), filename="help.md")
    assert doc.title == "Help centre"
    assert doc.language == "fr"
    assert doc.tags == ("shipping", "returns")
    paths = [" > ".join(s.headings) for s in doc.sections]
    assert paths == ["Shipping", "Shipping > Returns", "Shipping > Returns > Refunds", "Payment"]
    assert doc.sections[0].text == "We ship worldwide from Lyon."
    assert "France | 30" in doc.sections[1].text
    assert "refund --order ML204518" in doc.sections[2].text


def test_markdown_without_front_matter_takes_the_first_h1_as_title() -> None:
    doc = parse_bytes(b"Intro line.\n\n# Delivery\n\nTwo days.", filename="delivery_faq.md")
    assert doc.title == "Delivery"
    assert doc.language is None
    assert [(s.headings, s.text) for s in doc.sections] == [((), "Intro line."), (("Delivery",), "Two days.")]


def test_markdown_with_broken_front_matter_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match=r"help.md: front matter line \d+: invalid YAML"):
        parse_bytes(b"---\ntitle: [unclosed\n---\n# A\n\ntext", filename="help.md")


def test_html_drops_chrome_and_keeps_headings() -> None:
    html = b"""<!doctype html><html lang="es"><head><title>Ayuda</title><style>p{}</style></head>
    <body><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>
    <script>var tracking = 1;</script>
    <div role="navigation">Breadcrumbs</div>
    <h1>Envios</h1><p>Enviamos en <b>24 horas</b>.</p>
    <h2>Devoluciones</h2><ul><li>30 dias</li><li>Gratis</li></ul>
    <footer><p>Contacto: 01 84 80 12 34</p></footer></body></html>"""
    doc = parse_bytes(html, filename="ayuda.html")
    assert doc.title == "Ayuda"
    assert doc.language == "es"
    text = " ".join(s.text for s in doc.sections)
    for chrome in ("Home", "Shop", "tracking", "Breadcrumbs", "p{}"):
        assert chrome not in text
    assert [s.headings for s in doc.sections] == [("Envios",), ("Envios", "Devoluciones")]
    assert doc.sections[0].text == "Enviamos en 24 horas."
    assert doc.sections[1].text == "30 dias\n\nGratis\n\nContacto: 01 84 80 12 34"


def test_pdf_keeps_page_numbers_title_and_language() -> None:
    data = make_pdf(["Returns are free within 30 days.", "Refunds take five days."], title="Returns guide")
    doc = parse_bytes(data, filename="guide.pdf")
    assert doc.title == "Returns guide"
    assert doc.language == "en"
    assert [(s.page, s.text) for s in doc.sections] == [
        (1, "Returns are free within 30 days."),
        (2, "Refunds take five days."),
    ]


def test_broken_pdf_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match=r"guide\.pdf: not a readable PDF"):
        parse_bytes(b"%PDF-1.4 this is not a pdf", filename="guide.pdf")


def test_plain_text_keeps_paragraphs() -> None:
    doc = parse_bytes(b"First   paragraph\nstill first.\n\n\nSecond.", filename="notes.txt")
    assert doc.title == "notes"
    assert doc.sections[0].text == "First paragraph\nstill first.\n\nSecond."


def test_faq_csv_rows_keep_question_answer_language_and_tags() -> None:
    doc = parse_path(DATA / "shop_faq.csv")
    assert len(doc.faq) == 54
    entry = doc.faq[3]
    assert entry.question == "Combien coûtent les frais de port ?"
    assert entry.answer.startswith("La livraison standard coûte 4,90 €")
    assert entry.language == "fr"
    assert entry.tags == ("shipping",)
    assert entry.row == 5


def test_faq_json_accepts_document_metadata() -> None:
    data = {
        "title": "Aide",
        "language": "fr",
        "entries": [
            {"question": "Livrez-vous en Suisse ?", "answer": "Oui.", "tags": ["shipping"]},
            {"Question": "Do you ship to Spain?", "Answer": "Yes.", "Language": "en"},
        ],
    }
    doc = parse_bytes(json.dumps(data).encode(), filename="aide.json")
    assert doc.title == "Aide"
    assert doc.language == "fr"
    assert [(e.question, e.language, e.tags) for e in doc.faq] == [
        ("Livrez-vous en Suisse ?", None, ("shipping",)),
        ("Do you ship to Spain?", "en", ()),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,answer\nA?,yes\nB?,\n", r"faq.csv: row 3: answer is missing or empty"),
        ("question,answer,language\nA?,yes,en\nB?,no,en,extra\n", r"faq.csv: row 3: expected 3 fields, found 4"),
        ("question,answer,language\nA?,yes,english!\n", r"faq.csv: row 2: invalid language code"),
        ('question,answer\nA?,"multi\nline"\nB?,"unterminated\n', r"faq.csv: row \d+: malformed CSV"),
        ("question,reply\nA?,yes\n", r"faq.csv: line 1: missing column\(s\) answer"),
        ("question,answer,answer\nA?,yes,no\n", r"faq.csv: line 1: duplicated column\(s\) answer"),
        ("question,answer\n\n", r"faq.csv: no FAQ entries"),
    ],
)
def test_malformed_faq_csv_names_the_row(content: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        parse_bytes(content.encode(), filename="faq.csv")
    assert caught.value.errors[0]["file"] == "faq.csv"


def test_row_numbers_count_physical_lines_of_multiline_cells() -> None:
    content = 'question,answer\nA?,"line one\nline two"\nB?,\n'
    with pytest.raises(ValidationFailed, match="row 4: answer") as caught:
        parse_bytes(content.encode(), filename="faq.csv")
    assert caught.value.errors[0]["row"] == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"question": "A?", "answer": "yes"}, {"question": "B?"}]', r"entry 2: answer is missing"),
        ('[{"question": "A?", "answer": "yes", "tags": 3}]', r"entry 1: tags must be a string or a list"),
        ('{"entries": [1]}', r"entry 1: an entry must be an object"),
        ('{"entries": [}', r"line 1 column 14: invalid JSON"),
        ('"just a string"', r"expected a list of entries"),
    ],
)
def test_malformed_faq_json_names_the_entry(content: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse_bytes(content.encode(), filename="faq.json")


def test_non_utf8_and_unsupported_and_empty_files_are_rejected() -> None:
    with pytest.raises(ValidationFailed, match=r"notes.txt: byte 3: not UTF-8 text \(byte 0xe9\)"):
        parse_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"), filename="notes.txt")
    with pytest.raises(ValidationFailed, match="unsupported file type"):
        parse_bytes(b"x", filename="sheet.xlsx")
    with pytest.raises(ValidationFailed, match=r"empty\.md: no text found"):
        parse_bytes(b"   \n", filename="empty.md")


def test_html_inline_text_and_nested_blocks_keep_reading_order() -> None:
    html = b"<body><div>Hello <b>world</b><p>Inner para.</p> tail text<pre>  code  line</pre></div></body>"
    [section] = parse_bytes(html, filename="page.htm").sections
    assert section.text == "Hello world\n\nInner para.\n\ntail text\n\n  code  line"


def test_a_title_from_the_file_is_kept_to_200_characters() -> None:
    front = b"---\ntitle: " + b"T" * 5000 + b"\n---\n# Returns\nThirty days to return an item.\n"
    assert parse_bytes(front, filename="policy.md").title == "T" * 200
    html = b"<html><head><title>" + b"Long " * 2000 + b"</title></head><body><p>Hello</p></body></html>"
    assert len(parse_bytes(html, filename="page.html").title) <= 200
