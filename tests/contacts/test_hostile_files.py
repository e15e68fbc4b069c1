"""Hostile contact and order files through the import routes: each is a clear 422 naming the problem, at upload,
with nothing recorded; none is a 500 or a worker walking a file it should have refused (docs/security.md,
"Files the server parses"). The files are crafted small here: a guard is tested by what it reads, not by a big file.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.helpers import auth_headers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_PATH = "xl/worksheets/sheet1.xml"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"'
    '/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/'
    f'{SHEET_PATH}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Clients"'
    ' sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def _row(number: int, *values: str) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    return f'<row r="{number}">{cells}</row>'


def _book(rows: str) -> bytes:
    """A workbook written by hand, so it can say what no spreadsheet program writes."""
    sheet = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{rows}</sheetData></worksheet>")  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {**PARTS, SHEET_PATH: sheet}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


GOOD_ROWS = _row(1, "phone", "first_name") + _row(2, "+33612345678", "Jean")


def _with_bad_crc(data: bytes) -> bytes:
    """The sheet's CRC-32 in the central directory changed: the archive opens, the part does not read back."""
    patched = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == SHEET_PATH.encode():
            struct.pack_into("<I", patched, at + 16, 12345)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(patched)


def _post(client: TestClient, path: str, body: bytes, content_type: str) -> dict[str, object]:
    answer = client.post(path, headers={**auth_headers("marketer"), "Content-Type": content_type}, content=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = answer.json()
    return problem


ROUTES = ("/api/v1/contacts/imports/preview", "/api/v1/contacts/import", "/api/v1/orders/import?dry_run=true")


def _nothing_recorded(client: TestClient) -> None:
    marketer = auth_headers("marketer")
    assert client.get("/api/v1/contacts/imports", headers=marketer).json() == []
    assert client.get("/api/v1/contacts", headers=marketer).json()["items"] == []


@pytest.mark.parametrize("path", ROUTES)
def test_a_damaged_workbook_is_a_422_naming_the_part(app_client: TestClient, path: str) -> None:
    """A part whose CRC does not match (or whose size lies, or whose deflate data is damaged) answered 500."""
    problem = _post(app_client, path, _with_bad_crc(_book(GOOD_ROWS)), XLSX)
    assert f"{SHEET_PATH} is damaged" in str(problem["detail"]), problem
    _nothing_recorded(app_client)


@pytest.mark.parametrize("path", ROUTES)
def test_a_row_wider_than_a_spreadsheet_is_refused_before_openpyxl_reads_it(app_client: TestClient, path: str) -> None:
    """openpyxl parses a row whole before dropping the columns an import reads: one row of 400,000 cells in a
    1.7 MB workbook took 330 MB and 32 s, so a 50 MB upload took the process's memory."""
    wide = "<c/>" * 16_385
    started = time.monotonic()
    problem = _post(app_client, path, _book(GOOD_ROWS + f'<row r="3">{wide}</row>'), XLSX)
    assert time.monotonic() - started < 5
    assert "row 3 of the workbook" in str(problem["detail"]) and "16,384 cells" in str(problem["detail"]), problem
    _nothing_recorded(app_client)


def test_a_row_as_wide_as_a_spreadsheet_is_read(app_client: TestClient) -> None:
    full = "<c/>" * 16_384
    answer = app_client.post("/api/v1/contacts/imports/preview",
                             headers={**auth_headers("marketer"), "Content-Type": XLSX},
                             content=_book(GOOD_ROWS + f'<row r="3">{full}</row>'))  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_rows_are_counted_in_the_sheet_not_taken_from_its_dimension(app_client: TestClient) -> None:
    """A 2 KB workbook whose third row is numbered 2,500,000 (no dimension) passed the check and had the worker walk
    2,000,000 empty rows for a minute before failing; it is now refused at upload, like a declared size."""
    rows = GOOD_ROWS + _row(2_500_000, "+33612345679", "Luc")
    problem = _post(app_client, "/api/v1/contacts/import", _book(rows), XLSX)
    assert "about 2,499,999 rows" in str(problem["detail"]), problem
    _nothing_recorded(app_client)


GOOD_CSV = "phone,first_name\n+33612345678,Jean\n"


@pytest.mark.parametrize(
    ("body", "encoding", "byte"),
    [
        (b"\xef\xbb\xbf" + GOOD_CSV.encode() + b"+33612345679,J\xff\xfean\n", "UTF-8", 52),
        (b"\xff\xfe" + GOOD_CSV.encode("utf-16-le") + b"\x00\xd8\x41\x00", "UTF-16", 72),  # a lone surrogate
        (b"\xff\xfe" + GOOD_CSV.encode("utf-16-le") + b"A", "UTF-16", 72),  # half a code unit at the end
        (b"\xff\xfe" + GOOD_CSV.encode(), "UTF-16", 36),  # a UTF-16 mark on UTF-8 text of odd length
    ],
    ids=["utf8-bad-byte", "utf16-lone-surrogate", "utf16-odd-length", "utf16-mark-on-utf8"],
)
@pytest.mark.parametrize("path", ROUTES)
def test_a_byte_order_mark_that_lies_is_a_422(
    app_client: TestClient, path: str, body: bytes, encoding: str, byte: int
) -> None:
    """The mark chose the codec and nothing checked the rest: the first byte out of it was a 500."""
    problem = _post(app_client, path, body, "text/csv")
    assert f"byte-order mark but is not {encoding} from byte {byte:,} on" in str(problem["detail"]), problem
    _nothing_recorded(app_client)


def test_the_workbook_is_loaded_once_to_check_it_and_once_to_read_it(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each openpyxl load parses the whole shared-strings table (35 s for the 2,000,000 short texts a 5 MB upload
    holds): the preview loaded a workbook six times when its list was on the second sheet, now twice."""
    import openpyxl

    loads = []
    load_workbook = openpyxl.load_workbook

    def counted(*args: object, **kwargs: object) -> object:
        loads.append(1)
        return load_workbook(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(openpyxl, "load_workbook", counted)
    book = openpyxl.Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    summary.append(["Export of 12/11/2026"])
    clients = book.create_sheet("Clients")
    clients.append(["phone", "first_name"])
    clients.append(["+33612345678", "Jean"])
    buffer = io.BytesIO()
    book.save(buffer)
    answer = app_client.post(
        "/api/v1/contacts/imports/preview",
        headers={**auth_headers("marketer"), "Content-Type": XLSX},
        content=buffer.getvalue(),
    )
    assert answer.status_code == 200 and answer.json()["sheet"] == "Clients", answer.text
    assert len(loads) == 2


def _sheet_with_merges(merges: str, data_rows: int = 3) -> bytes:
    """Row 2 names Jean in column B, the rows below leave it empty: a range merged down column B fills them."""
    rows = _row(1, "phone", "first_name") + _row(2, "+33612345602", "Jean")
    rows += "".join(_row(n, f"+336{n:08d}") for n in range(3, data_rows + 1))
    sheet = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{rows}</sheetData><mergeCells>{merges}</mergeCells></worksheet>")  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {**PARTS, SHEET_PATH: sheet}.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_merged_range_outside_a_sheet_is_refused_at_upload(app_client: TestClient) -> None:
    """openpyxl reads mergeCells after the rows and raised ValueError on a range past row 1,048,576: the import had
    written every row when its job failed, and the queue retried it three times."""
    problem = _post(app_client, "/api/v1/contacts/import", _sheet_with_merges('<mergeCell ref="B2:B1999999"/>'), XLSX)
    assert "merges cells outside a spreadsheet: B2:B1999999" in str(problem["detail"]), problem
    _nothing_recorded(app_client)


def test_copies_of_one_merged_range_do_not_make_every_row_walk_them(app_client: TestClient) -> None:
    """29,000 copies of B2:B999999 in a 2 KB file: each row walked every copy (20,000 rows: a minute of worker time).
    The merged value is still read down its rows."""
    from contacts.file_limits import FileLimits
    from contacts.tabular import inspect, read_table

    data = _sheet_with_merges('<mergeCell ref="B2:B999999"/>' * 29_000, data_rows=20_000)
    limits = FileLimits()
    shape = inspect(io.BytesIO(data), "merged.xlsx", limits)
    started = time.monotonic()
    table = read_table(io.BytesIO(data), shape, limits, lambda cells: "phone" in cells)
    rows = list(table.rows)
    assert time.monotonic() - started < 30  # the walk took a minute on a quiet machine; 15 s here under load 14
    assert len(rows) == 19_999 and {row[1] for row in rows} == {"Jean"}
