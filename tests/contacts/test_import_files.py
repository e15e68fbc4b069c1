"""Reading uploads: encodings, delimiters, header synonyms, and the limits (size, rows, cells, zip bombs)."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from contacts.file_limits import FileLimits
from contacts.import_mapping import normalise_header, resolve
from contacts.models import AttributeDefinition
from contacts.tabular import inspect, read_rows
from core.errors import PayloadTooLarge, ValidationFailed

LIMITS = FileLimits()


def _rows(data: bytes, filename: str = "f.csv", limits: FileLimits = LIMITS) -> tuple[str, str, list[list[str]]]:
    binary = io.BytesIO(data)
    shape = inspect(binary, filename, limits)
    return shape.encoding, shape.delimiter, list(read_rows(binary, shape, limits))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Prénom;Téléphone\nZoé;0612345678\n".encode(), "utf-8"),
        ("Prénom;Téléphone\nZoé;0612345678\n".encode("utf-8-sig"), "utf-8-sig"),
        ("Prénom;Téléphone\nZoé;0612345678\n".encode("cp1252"), "cp1252"),  # what French Excel saves
        ("Prénom\tTéléphone\nZoé\t0612345678\n".encode("utf-16"), "utf-16"),  # Excel's "Unicode text"
    ],
)
def test_encodings_are_detected_by_decoding_validity(data: bytes, encoding: str) -> None:
    found, _, rows = _rows(data)
    assert found == encoding
    assert rows == [["Prénom", "Téléphone"], ["Zoé", "0612345678"]]


def test_cp1252_curly_quotes_and_euro_and_latin1_fallback() -> None:
    found, _, rows = _rows("nom,note\nŒuvre,“10 €”\n".encode("cp1252"))
    assert (found, rows[1]) == ("cp1252", ["Œuvre", "“10 €”"])
    found, _, rows = _rows(b"nom,note\nA,\x81\xe9\n")  # 0x81 is undefined in cp1252
    assert (found, rows[1]) == ("latin-1", ["A", "\x81é"])


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("phone;name;note\n+33612345678;A;1,5\n+33612345679;B;2,5\n", ";"),  # French decimals use commas
        ('phone,name\n+33612345678,"Dupont; Jean"\n', ","),
        ("phone\tname\n+33612345678\tA\n", "\t"),
        ("phone|name\n+33612345678|A\n", "|"),
        ("phone\n+33612345678\n", ","),
    ],
)
def test_delimiter_is_sniffed(text: str, delimiter: str) -> None:
    assert _rows(text.encode())[1] == delimiter


def test_french_and_english_headers_map_without_a_mapping() -> None:
    header = ["TÉLÉPHONE", "Prénom", "Nom", "E-mail", "Langue", "Pays", "Consentement", "Portable", "Ville"]
    columns = resolve(header, None, {})
    assert [(c.column, c.target, c.source) for c in columns] == [
        ("TÉLÉPHONE", "ignore", "none"),  # the mobile column beside it is the one texts go to
        ("Prénom", "first_name", "synonym"),
        ("Nom", "name", "synonym"),
        ("E-mail", "ignore", "none"),
        ("Langue", "language", "synonym"),
        ("Pays", "country", "synonym"),
        ("Consentement", "consent", "synonym"),
        ("Portable", "phone", "synonym"),
        ("Ville", "ignore", "none"),
    ]
    assert columns[0].note == (
        "phone comes from “Portable”, the mobile number: texts go to mobiles; this column is read where it is empty")
    assert columns[3].note.startswith("not imported: contacts have no e-mail field. To keep these addresses, "
                                      "declare a contact attribute named “email”")
    assert normalise_header("  Numéro de Téléphone ") == "numero de telephone"


def test_customer_and_italian_portuguese_name_headers_map_without_a_mapping() -> None:
    columns = resolve(["Client", "Mobile"], None, {})
    assert [(c.column, c.target) for c in columns] == [("Client", "name"), ("Mobile", "phone")]
    columns = resolve(["Nome", "Cognome", "Cellulare"], None, {})
    assert [(c.column, c.target) for c in columns][:2] == [("Nome", "first_name"), ("Cognome", "name")]
    columns = resolve(["Customer name", "Phone"], None, {})
    assert columns[0].target == "name"


def test_a_mapping_overrides_single_columns_and_keeps_the_rest_automatic() -> None:
    known = {"ville": AttributeDefinition(name="ville", type="string")}
    columns = resolve(["Tel", "Portable", "Prénom", "Ville"], {"portable": "phone", "Tel": "ignore"}, known)
    assert [(c.target, c.source) for c in columns] == [
        ("ignore", "mapping"),
        ("phone", "mapping"),
        ("first_name", "synonym"),
        ("attribute:ville", "attribute"),
    ]
    with pytest.raises(ValidationFailed) as caught:
        resolve(["Tel", "Mobile"], {"Tel": "phone", "Mobile": "phone", "Nope": "name", "Tel ": "attribute:x"}, {})
    assert {e["field"] for e in caught.value.errors} == {"mapping.Nope", "mapping.Tel ", "mapping"}
    with pytest.raises(ValidationFailed, match="no column maps to phone"):
        resolve(["Prénom", "Nom"], None, {})


def test_size_rows_and_columns_limits() -> None:
    small = FileLimits(max_bytes=1024, max_rows=3, max_cell=10, max_columns=3)
    with pytest.raises(PayloadTooLarge):
        inspect(io.BytesIO(b"phone\n" + b"+33612345678\n" * 100), "f.csv", small)
    with pytest.raises(ValidationFailed, match="imports take at most 3"):
        inspect(io.BytesIO(b"phone\n1\n2\n3\n4\n"), "f.csv", small)
    with pytest.raises(ValidationFailed, match="old Excel"):
        inspect(io.BytesIO(b"\xd0\xcf\x11\xe0xx"), "f.xls", small)


def test_a_binary_file_is_refused_as_no_spreadsheet() -> None:
    # a PNG chosen by mistake was read as a cp1252 CSV of garbage, its "rows" rejected one by one
    limits = FileLimits(max_bytes=1 << 20, max_rows=100, max_cell=100, max_columns=10)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
    with pytest.raises(ValidationFailed, match="not a spreadsheet"):
        inspect(io.BytesIO(png), "contacts.png", limits)
    utf16 = "phone;name\n+33612345678;Zoé\n".encode("utf-16")  # NUL bytes in every character, and a BOM
    assert inspect(io.BytesIO(utf16), "export.csv", limits).encoding == "utf-16"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_rows_are_read_and_a_long_shared_string_is_refused_before_loading() -> None:
    _, _, rows = _rows(_xlsx([["Phone", "Name"], [33612345678, "Zoé"]]), "f.xlsx")
    assert rows == [["Phone", "Name"], ["33612345678", "Zoé"]]
    data = _xlsx([["Phone", "Note"], ["+33612345678", "x" * 2001]])
    with pytest.raises(ValidationFailed, match="longer than 2,000 characters"):
        inspect(io.BytesIO(data), "f.xlsx", LIMITS)


def test_xlsx_zip_bomb_is_refused_from_the_zip_directory() -> None:
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["Phone"], ["+33612345678"]])))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename != "xl/sharedStrings.xml":
                out.writestr(info.filename, source.read(info.filename))
        # a 300 MB shared-string cell compresses to a few hundred KB: refused without inflating it
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
            block = b"x" * (1 << 20)
            for _ in range(300):
                part.write(block)
            part.write(b"</t></si></sst>")
    assert bomb.tell() < 2_000_000
    bomb.seek(0)
    with pytest.raises(PayloadTooLarge, match="inflates"):
        inspect(bomb, "f.xlsx", LIMITS)


def test_row_parser_uses_the_country_column_codes_or_names_and_language_names(runtime: object) -> None:
    from contacts.import_report import ImportOptions
    from contacts.importer import RowParser

    limits = FileLimits(max_columns=4)
    parser = RowParser(["Téléphone", "Pays", "Langue"], ImportOptions(region="FR"), {}, limits)
    row, problems = parser.parse(2, ["0470 12 34 56", "be", "Français"])
    assert row is not None and (row.e164, row.language, problems) == ("+32470123456", "fr", [])
    row, problems = parser.parse(3, ["06 12 34 56 78", "France", "EN"])
    assert row is not None and (row.e164, row.country, problems) == ("+33612345678", "FR", [])
    assert row.language == "en"
    # a country's name: a Spanish national number read in France was another customer's French mobile
    row, problems = parser.parse(31, ["612 345 678", "Espagne", ""])
    assert row is not None and (row.e164, row.timezone, problems) == ("+34612345678", "Europe/Madrid", [])
    row, problems = parser.parse(32, ["0151 23456789", "Deutschland", ""])
    assert row is not None and (row.e164, problems) == ("+4915123456789", [])
    row, problems = parser.parse(34, ["351912345678", "Portugal", ""])
    assert row is not None and (row.e164, problems) == ("+351912345678", [])
    row, problems = parser.parse(33, ["06 12 34 56 77", "Narnia", ""])
    assert row is not None and row.e164 == "+33612345677"
    assert [(p.code, p.error) for p in problems] == [("country_ignored", False)]
    row, _ = parser.parse(4, ["06 12 34 56 79", "", "pt_br"])
    assert row is not None and row.language == "pt-BR"
    row, problems = parser.parse(5, ["06 12 34 56 78", "FR", "fr", "x", "y"])
    assert row is None and [p.code for p in problems] == ["too_many_columns"]
    # a line written with commas in a file separated by semicolons: said so, not "not a phone number"
    row, problems = parser.parse(6, ["0612345605,BE,fr"])
    assert row is None and [(p.code, p.column) for p in problems] == [("wrong_separator", "Téléphone")]
    assert "separated by “,” unlike the other rows" in problems[0].message
    with pytest.raises(ValidationFailed, match="at most 4"):
        RowParser(["phone", "a", "b", "c", "d"], ImportOptions(), {}, limits)


@pytest.mark.parametrize(
    ("cell", "consent"),
    [("Oui", True), ("sí", True), ("Sim", True), ("ja", True), ("VRAI", True), ("non", False), ("não", False),
     ("Nein", False), ("nee", False), ("faux", False), ("", None)],
)  # fmt: skip
def test_consent_words_of_the_product_languages(runtime: object, cell: str, consent: bool | None) -> None:
    from contacts.import_report import ImportOptions
    from contacts.importer import RowParser

    parser = RowParser(["Téléphone", "Opt-in SMS"], ImportOptions(region="FR"), {}, FileLimits(max_columns=4))
    row, problems = parser.parse(2, ["06 12 34 56 78", cell])
    assert row is not None and (row.consent, problems) == (consent, [])


def test_an_unknown_consent_word_rejects_the_row_and_says_the_words_it_takes(runtime: object) -> None:
    from contacts.import_report import ImportOptions
    from contacts.importer import RowParser

    parser = RowParser(["Téléphone", "Opt-in SMS"], ImportOptions(region="FR"), {}, FileLimits(max_columns=4))
    row, problems = parser.parse(2, ["06 12 34 56 78", "peut-être"])
    assert row is None and [(p.code, p.column) for p in problems] == [("bad_consent", "Opt-in SMS")]
    assert "sim/não" in problems[0].message
