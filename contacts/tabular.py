"""Reading contact files: CSV (encoding detected, delimiter sniffed, streamed) and XLSX (guarded, read-only).

:func:`inspect` looks at a whole upload once, before any row is imported: format, encoding,
delimiter, an estimate of the row count, and the limits (size, zip bombs, over-long XLSX cells).
:func:`read_table` then finds the header (a title and blank rows above it are passed over; in a
workbook, the first visible sheet that has one) and yields each row as a list of strings without
loading the file whole; :func:`read_rows` yields every row of the file (or first visible sheet) as is.
Problems a person can fix raise ``ValidationFailed`` (422) naming the line or part; files too large
to process raise ``PayloadTooLarge`` (413).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain, islice
from typing import IO, Any, Literal
from xml.parsers import expat

from core.errors import PayloadTooLarge, ValidationFailed
from core.settings import Settings

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
DELIMITERS = (";", ",", "\t", "|")
READ_CHUNK = 1 << 20
SNIFF_CHARS = 64 * 1024
# bytes that cp1252 leaves undefined: a file holding them is Latin-1 (ISO 8859-1), not Windows-1252
_CP1252_HOLES = re.compile(b"[\x81\x8d\x8f\x90\x9d]")
# XLSX: an entry inflating more than this (and over 1 MiB) is a zip bomb, not a spreadsheet
MAX_ZIP_RATIO = 200
# XLSX: the uncompressed parts together may be this many times the upload limit
MAX_UNCOMPRESSED_FACTOR = 20
# XLSX: openpyxl holds the shared-strings table in memory; it may be this many times the upload limit
SHARED_STRINGS_FACTOR = 2

# the header is looked for among the first rows: a title, a date line and blank rows above it are passed over
HEADER_SCAN = 10
TITLE_CELLS = 2  # a title row above the header: "Clients", "Exporté le ; 12/11/2026"

Format = Literal["csv", "xlsx"]


@dataclass(frozen=True)
class FileLimits:
    """What an import accepts (``RELAIS_IMPORT_MAX_*``)."""

    max_bytes: int = 50 * 1024 * 1024
    max_rows: int = 2_000_000
    max_cell: int = 2000
    max_columns: int = 200

    @classmethod
    def of(cls, settings: Settings) -> FileLimits:
        return cls(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            max_cell=settings.import_max_cell_chars,
            max_columns=settings.import_max_columns,
        )


@dataclass(frozen=True)
class FileShape:
    """What :func:`inspect` found; stored with an import job so workers read the file the same way."""

    format: Format
    encoding: str = ""  # CSV only: utf-8, utf-8-sig, utf-16, cp1252 or latin-1
    delimiter: str = ""  # CSV only
    rows_estimate: int | None = None  # data rows (header excluded), for progress


def inspect(binary: IO[bytes], filename: str, limits: FileLimits) -> FileShape:
    """Detect the format and check the limits of a whole upload; the stream is rewound.

    Raises:
        PayloadTooLarge: over ``max_bytes``, or an XLSX that inflates beyond its limits.
        ValidationFailed: empty, an old ``.xls``, an unreadable workbook, an XLSX cell over
            ``max_cell`` characters, more rows than ``max_rows``.
    """
    start = binary.read(4)
    binary.seek(0)
    if not start:
        raise ValidationFailed(
            "the file is empty: expected a header row naming the columns", errors=[{"field": "file"}]
        )
    if start == OLE_MAGIC or filename.lower().endswith(".xls"):
        raise ValidationFailed(
            "old Excel .xls files are not read: save the sheet as .xlsx or CSV", errors=[{"field": "file"}]
        )
    if start == XLSX_MAGIC or filename.lower().endswith((".xlsx", ".xlsm")):
        shape = FileShape("xlsx", rows_estimate=_check_xlsx(binary, limits))
    else:
        encoding, lines, size, binary_bytes = _scan_text(binary, limits)
        if size > limits.max_bytes:
            raise PayloadTooLarge(f"the file is larger than {limits.max_bytes:,} bytes")
        if binary_bytes:
            raise ValidationFailed(
                "this is not a spreadsheet (it holds binary data, as an image or a PDF does): "
                "export the contacts as CSV or XLSX",
                errors=[{"field": "file"}],
            )
        shape = FileShape("csv", encoding, _sniff_delimiter(_sample(binary, encoding)), max(lines - 1, 0))
    binary.seek(0)
    if shape.rows_estimate is not None and shape.rows_estimate > limits.max_rows:
        raise ValidationFailed(
            f"the file has about {shape.rows_estimate:,} rows; imports take at most {limits.max_rows:,}",
            errors=[{"field": "file"}],
        )
    return shape


def read_rows(binary: IO[bytes], shape: FileShape, limits: FileLimits) -> Iterator[list[str]]:
    """The header, then every row (blank rows included, so positions match the spreadsheet's).

    Raises:
        ValidationFailed: a malformed CSV (unterminated quote, NUL byte, a field over 128 KiB).
    """
    if shape.format == "xlsx":
        return _xlsx_rows(binary, limits)
    return _csv_rows(binary, shape)


@dataclass
class Table:
    """The part of a file that holds the data: its header, where it is, and the rows below it."""

    header: list[str]
    header_row: int  # spreadsheet numbering: 1 unless a title or blank rows stand above the header
    rows: Iterator[list[str]]  # the rows below the header, blank ones included (positions match)
    sheet: str = ""  # XLSX: the sheet read
    sheets: tuple[str, ...] = field(default_factory=tuple)  # XLSX: every sheet of the workbook, in order
    hidden: frozenset[int] = frozenset()  # XLSX: positions of the columns hidden in the sheet

    def notes(self) -> list[str]:
        """What a person should know about which part of the file is read, in words ([] for a plain file)."""
        found = []
        others = [name for name in self.sheets if name != self.sheet]
        if others:
            found.append(f"Read the sheet “{self.sheet}”; the workbook's other sheets are not imported: "
                         + ", ".join(f"“{name}”" for name in others) + ".")
        if self.header_row > 1:
            above = "row 1 is" if self.header_row == 2 else f"rows 1 to {self.header_row - 1} are"
            found.append(f"The column names are on row {self.header_row}: {above} above them (a title) and not "
                         "imported.")
        return found


def read_table(
    binary: IO[bytes], shape: FileShape, limits: FileLimits, is_header: Callable[[list[str]], bool]
) -> Table:
    """The header and the rows below it: the first of the first :data:`HEADER_SCAN` rows that ``is_header``
    accepts, else row 1; in a workbook, the first visible sheet holding such a row, else the first visible one.

    Exports put a title ("Clients – export du 12/11/2026"), a date or a blank row above the column names, and
    workbooks a summary sheet before the data: row 1 was taken for the header and the file refused as having
    no phone column. Deterministic, so the worker finds what the preview showed.

    Raises:
        ValidationFailed: a malformed CSV, an unreadable workbook, a file without a header row.
    """
    if shape.format == "xlsx":
        sheets = _visible_sheets(binary)
        for sheet in sheets:
            head, rest = _head(_xlsx_rows(binary, limits, sheet))
            position = _header_position(head, is_header)
            if position is not None:
                return Table(*_split(head, position, rest), sheet=sheet, sheets=_all_sheets(binary),
                             hidden=_hidden_columns(binary, sheet))
        first = sheets[0] if sheets else ""
        head, rest = _head(_xlsx_rows(binary, limits, first))
        return Table(*_split(head, 0, rest), sheet=first, sheets=_all_sheets(binary),
                     hidden=_hidden_columns(binary, first))
    head, rest = _head(_csv_rows(binary, shape))
    return Table(*_split(head, _header_position(head, is_header) or 0, rest))


def _head(rows: Iterator[list[str]]) -> tuple[list[list[str]], Iterator[list[str]]]:
    return list(islice(rows, HEADER_SCAN)), rows


def _header_position(head: list[list[str]], is_header: Callable[[list[str]], bool]) -> int | None:
    """The first row ``is_header`` accepts, passing over only rows a title or blank line would make (at most
    :data:`TITLE_CELLS` cells filled): a fuller row is the header or data, and a data row's cell reading "Mobile"
    (Google Contacts' "Phone 2 - Type") was taken for the header."""
    for position, cells in enumerate(head):
        if is_header(cells):
            return position
        if sum(1 for c in cells if c.strip()) > TITLE_CELLS:
            return None
    return None


def _split(
    head: list[list[str]], position: int, rest: Iterator[list[str]]
) -> tuple[list[str], int, Iterator[list[str]]]:
    """(header, its row number, the rows below it)."""
    if not head or not any(c.strip() for c in head[position]):
        raise ValidationFailed(
            "the file is empty: expected a header row naming the columns", errors=[{"field": "file"}]
        )
    return head[position], position + 1, chain(head[position + 1 :], rest)


# -- CSV ---------------------------------------------------------------------------------------


def _scan_text(binary: IO[bytes], limits: FileLimits) -> tuple[str, int, int, bool]:
    """One pass over the bytes: the encoding (by decoding validity, no guessing), lines, size, and
    whether it holds a NUL byte outside UTF-16 (an image, a PDF: read as cp1252 it was a CSV of garbage)."""
    head = binary.read(4)
    binary.seek(0)
    bom = None
    if head.startswith(codecs.BOM_UTF8):
        bom = "utf-8-sig"
    elif head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        bom = "utf-16"
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = is_cp1252 = True
    lines = size = 0
    last = b""
    nul = False
    for chunk in iter(lambda: binary.read(READ_CHUNK), b""):
        size += len(chunk)
        if size > limits.max_bytes:
            break  # the caller refuses it; no need to read on
        lines += chunk.count(b"\n")
        nul = nul or (bom != "utf-16" and b"\x00" in chunk)
        last = chunk[-1:]
        if bom is None and is_utf8:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                is_utf8 = False
        if bom is None and is_cp1252 and _CP1252_HOLES.search(chunk):
            is_cp1252 = False
    if bom is None and is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a multi-byte sequence
            is_utf8 = False
    binary.seek(0)
    if last and last != b"\n":
        lines += 1
    encoding = bom or ("utf-8" if is_utf8 else "cp1252" if is_cp1252 else "latin-1")
    return encoding, lines, size, nul


def _sample(binary: IO[bytes], encoding: str) -> str:
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    try:
        sample = text.read(SNIFF_CHARS)
    finally:
        text.detach()
        binary.seek(0)
    return sample


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most consistent, widest rows.

    The width is the most common one, not the first line's: a title line above the header ("Clients au
    12/11/2026") is one cell whatever the delimiter, and the file was then read as comma-separated.
    """
    lines = sample.splitlines()
    if len(sample) >= SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:50]
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        widths = [len(r) for r in rows]
        width = max(set(widths), key=lambda w: (widths.count(w), w)) if widths else 0
        if width < 2:
            continue
        score = (sum(len(r) == width for r in rows) / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(binary: IO[bytes], shape: FileShape) -> Iterator[list[str]]:
    text = io.TextIOWrapper(binary, encoding=shape.encoding or "utf-8", newline="")
    reader = csv.reader(text, delimiter=shape.delimiter or ",", strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise ValidationFailed(
            f"malformed CSV at line {reader.line_num + 1}: {exc}", errors=[{"field": "file"}]
        ) from None
    finally:
        with contextlib.suppress(ValueError):  # the caller may have closed the file already
            text.detach()  # leave the binary stream open for the caller


# -- XLSX --------------------------------------------------------------------------------------


def _check_xlsx(binary: IO[bytes], limits: FileLimits) -> int | None:
    """Refuse bombs and over-long cells from the zip directory and a streamed scan of the XML,
    before openpyxl materialises anything. Returns the first sheet's declared row count."""
    binary.seek(0, io.SEEK_END)
    if binary.tell() > limits.max_bytes:
        raise PayloadTooLarge(f"the file is larger than {limits.max_bytes:,} bytes")
    binary.seek(0)
    try:
        archive = zipfile.ZipFile(binary)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None
    with archive:
        entries = archive.infolist()
        total = sum(info.file_size for info in entries)
        if total > limits.max_bytes * MAX_UNCOMPRESSED_FACTOR:
            raise PayloadTooLarge(f"the workbook inflates to {total:,} bytes; save the sheet as CSV")
        for info in entries:
            if info.file_size > READ_CHUNK and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise PayloadTooLarge(
                    f"{info.filename} inflates {info.file_size // max(info.compress_size, 1)}x: not a spreadsheet"
                )
            if info.filename == "xl/sharedStrings.xml" and info.file_size > limits.max_bytes * SHARED_STRINGS_FACTOR:
                raise PayloadTooLarge("the workbook's shared-strings table is too large; save the sheet as CSV")
        for info in entries:
            if info.filename == "xl/sharedStrings.xml" or (
                info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
            ):
                with archive.open(info) as part:
                    _check_text_lengths(part, info.filename, limits.max_cell)
    binary.seek(0)
    return _declared_rows(binary)


def _check_text_lengths(part: IO[bytes], name: str, limit: int) -> None:
    """Stream ``part`` through expat, counting each text node's length without keeping it."""
    parser = expat.ParserCreate()
    run = 0

    def reset(*_: Any) -> None:
        nonlocal run
        run = 0

    def text(data: str) -> None:
        nonlocal run
        run += len(data)
        if run > limit:
            raise ValidationFailed(
                f"a cell of the workbook ({name}) is longer than {limit:,} characters",
                errors=[{"field": "file", "message": f"cells are limited to {limit:,} characters"}],
            )

    parser.StartElementHandler = reset
    parser.EndElementHandler = reset
    parser.CharacterDataHandler = text
    try:
        for chunk in iter(lambda: part.read(READ_CHUNK), b""):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {name}: {exc}", errors=[{"field": "file"}]) from None


def _declared_rows(binary: IO[bytes]) -> int | None:
    book = _open_book(binary)
    try:
        sheets = [s for s in book.worksheets if s.sheet_state == "visible"] or book.worksheets
        rows = max((sheet.max_row or 0 for sheet in sheets), default=0) if sheets else None
    finally:
        book.close()
        binary.seek(0)
    return max(rows - 1, 0) if rows else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed into Excel become floats
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _open_book(binary: IO[bytes]) -> Any:
    from openpyxl import load_workbook

    binary.seek(0)
    try:
        return load_workbook(binary, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike for a bad file
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None


def _all_sheets(binary: IO[bytes]) -> tuple[str, ...]:
    book = _open_book(binary)
    try:
        return tuple(sheet.title for sheet in book.worksheets)
    finally:
        book.close()


def _visible_sheets(binary: IO[bytes]) -> list[str]:
    """The workbook's sheets a person sees, in order (a hidden one holds lookups, not the list)."""
    book = _open_book(binary)
    try:
        return [sheet.title for sheet in book.worksheets if sheet.sheet_state == "visible"]
    finally:
        book.close()


class _Done(Exception):
    """Stops an expat pass once what it looks for is read."""


def _hidden_columns(binary: IO[bytes], sheet_name: str) -> frozenset[int]:
    """The 0-based positions of the columns hidden in ``sheet_name`` (``<cols>`` comes before the sheet's data,
    so only the start of the part is read)."""
    book = _open_book(binary)
    try:
        path = getattr(book[sheet_name], "_worksheet_path", "") if sheet_name in book.sheetnames else ""
    finally:
        book.close()
    if not path:
        return frozenset()
    hidden: set[int] = set()
    parser = expat.ParserCreate()

    def start(name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "sheetData":
            raise _Done
        if local == "col" and attributes.get("hidden") in ("1", "true"):
            with contextlib.suppress(KeyError, ValueError):
                hidden.update(range(int(attributes["min"]) - 1, int(attributes["max"])))

    parser.StartElementHandler = start
    with zipfile.ZipFile(binary) as archive, archive.open(path) as part, contextlib.suppress(_Done, expat.ExpatError):
        for chunk in iter(lambda: part.read(64 * 1024), b""):
            parser.Parse(chunk, False)
    binary.seek(0)
    return frozenset(h for h in hidden if h < 16_384)


def _merged_down(archive_part: IO[bytes]) -> dict[int, list[tuple[int, int, int]]]:
    """A sheet's merged ranges as ``first row → [(column, first row, last row)]`` (0-based column): the
    ranges' first column, read down. Streamed with expat (``mergeCells`` follows the sheet's data)."""
    from openpyxl.utils.cell import range_boundaries

    found: dict[int, list[tuple[int, int, int]]] = {}
    parser = expat.ParserCreate()

    def start(name: str, attributes: dict[str, str]) -> None:
        if name.rpartition(":")[2] == "mergeCell" and attributes.get("ref"):
            with contextlib.suppress(ValueError, TypeError):
                min_col, min_row, _, max_row = range_boundaries(attributes["ref"])
                if min_row is not None and max_row is not None and min_col is not None and max_row > min_row:
                    found.setdefault(min_row, []).append((min_col - 1, min_row, max_row))

    parser.StartElementHandler = start
    with contextlib.suppress(expat.ExpatError):  # the size check parsed this part already
        for chunk in iter(lambda: archive_part.read(READ_CHUNK), b""):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    return found


def _xlsx_rows(binary: IO[bytes], limits: FileLimits, sheet_name: str | None = None) -> Iterator[list[str]]:
    """The rows of ``sheet_name`` (the first visible sheet when None). A value merged over several rows (a
    store, a consent answer given once for a group) is read on each of them, as the spreadsheet shows it:
    openpyxl's read-only mode gives it to the first row only, and the others were imported without it."""
    book = _open_book(binary)
    try:
        visible = [s for s in book.worksheets if s.sheet_state == "visible"] or book.worksheets
        sheet = book[sheet_name] if sheet_name else visible[0]
        merged: dict[int, list[tuple[int, int, int]]] = {}
        path = getattr(sheet, "_worksheet_path", "")
        if path:
            with zipfile.ZipFile(binary) as archive, archive.open(path) as part:
                merged = _merged_down(part)
        running: list[tuple[int, int, str]] = []  # (column, last row, value) of merged ranges being read down
        # a bogus dimension (A1:XFD1048576) would pad every row to 16,384 cells: stop one past the limit
        for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=limits.max_columns + 1), 1):
            cells = [_cell(v) for v in values]
            running = [r for r in running if r[1] >= number]
            for column, _, value in running:
                if column < len(cells) and cells[column] == "":
                    cells[column] = value
                elif column >= len(cells) and column <= limits.max_columns:
                    cells.extend([""] * (column - len(cells)) + [value])
            for column, _, last in merged.pop(number, []):
                if column < len(cells) and cells[column]:
                    running.append((column, last, cells[column]))
            while cells and cells[-1] == "":
                cells.pop()
            yield cells
    finally:
        book.close()
