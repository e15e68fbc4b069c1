"""Reading contact files: CSV (encoding detected, delimiter sniffed, streamed) and XLSX (guarded, read-only).

:func:`inspect` looks at a whole upload once, before any row is imported: format, encoding,
delimiter, an estimate of the row count, and the limits (size, zip bombs, over-long XLSX cells).
:func:`read_table` then finds the header (a title and blank rows above it are passed over; in a
workbook, the first visible sheet that has one) and yields each row as a list of strings without
loading the file whole; :func:`read_rows` yields every row of the file (or first visible sheet) as is.
Problems a person can fix raise ``ValidationFailed`` (422) naming the line or part; files too large
to process raise ``PayloadTooLarge`` (413). Workbooks are read by ``contacts.tabular_xlsx``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import IO, Literal, Protocol

from contacts.file_limits import FileLimits
from contacts.tabular_xlsx import Workbook, check_xlsx, closing_rows, xlsx_rows
from core.errors import PayloadTooLarge, ValidationFailed

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
DELIMITERS = (";", ",", "\t", "|")
READ_CHUNK = 1 << 20
SNIFF_CHARS = 64 * 1024
# bytes that cp1252 leaves undefined: a file holding them is Latin-1 (ISO 8859-1), not Windows-1252
_CP1252_HOLES = re.compile(b"[\x81\x8d\x8f\x90\x9d]")

# the header is looked for among the first rows: a title, a date line and blank rows above it are passed over
HEADER_SCAN = 10
TITLE_CELLS = 2  # a title row above the header: "Clients", "Exporté le ; 12/11/2026"

Format = Literal["csv", "xlsx"]


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
        shape = FileShape("xlsx", rows_estimate=check_xlsx(binary, limits))
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
        return xlsx_rows(binary, limits)
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
        book = Workbook(binary)  # one load for the whole read: each parses the shared strings again
        try:
            table = sheet_table(book, limits, is_header)
        except BaseException:
            book.close()
            raise
        table.rows = closing_rows(table.rows, book)
        return table
    return plain_table(_csv_rows(binary, shape), is_header)


class Sheets(Protocol):
    """A workbook's sheets as :func:`sheet_table` reads them: ``contacts.tabular_xlsx.Workbook``, or the first rows
    of one kept with a draft (``contacts.file_head.FileHead``)."""

    @property
    def sheets(self) -> tuple[str, ...]: ...

    def visible(self) -> list[str]: ...

    def rows(self, limits: FileLimits, sheet_name: str | None = None) -> Iterator[list[str]]: ...

    def hidden_columns(self, sheet_name: str) -> frozenset[int]: ...


def sheet_table(book: Sheets, limits: FileLimits, is_header: Callable[[list[str]], bool]) -> Table:
    """:func:`read_table` of a workbook: the first visible sheet whose first rows hold a header, else the first
    visible sheet from its row 1."""
    sheets = book.visible()
    found = None
    for sheet in sheets:
        head, rest = _head(book.rows(limits, sheet))
        position = header_position(head, is_header)
        if position is not None:
            found = sheet, head, position, rest
            break
    if found is None:
        first = sheets[0] if sheets else ""
        head, rest = _head(book.rows(limits, first or None))
        found = first, head, 0, rest
    sheet, head, position, rest = found
    header, header_row, below = _split(head, position, rest)
    return Table(header, header_row, below, sheet=sheet, sheets=book.sheets, hidden=book.hidden_columns(sheet))


def plain_table(rows: Iterator[list[str]], is_header: Callable[[list[str]], bool]) -> Table:
    """:func:`read_table` of a CSV file's ``rows``."""
    head, rest = _head(rows)
    return Table(*_split(head, header_position(head, is_header) or 0, rest))


def _head(rows: Iterator[list[str]]) -> tuple[list[list[str]], Iterator[list[str]]]:
    return list(islice(rows, HEADER_SCAN)), rows


def header_position(head: list[list[str]], is_header: Callable[[list[str]], bool]) -> int | None:
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
    whether it holds a NUL byte outside UTF-16 (an image, a PDF: read as cp1252 it was a CSV of garbage).

    Raises:
        ValidationFailed: a byte-order mark followed by bytes that are not in its encoding (read on, they
            failed the import with a 500 at the first such byte, in the request or in the worker).
    """
    head = binary.read(4)
    binary.seek(0)
    bom = None
    if head.startswith(codecs.BOM_UTF8):
        bom = "utf-8-sig"
    elif head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        bom = "utf-16"
    decoder = codecs.getincrementaldecoder("utf-16" if bom == "utf-16" else "utf-8")()  # a UTF-8 BOM is valid UTF-8
    decodes = is_cp1252 = True
    lines = size = 0
    bad_at = -1
    last = b""
    nul = False
    for chunk in iter(lambda: binary.read(READ_CHUNK), b""):
        size += len(chunk)
        if size > limits.max_bytes:
            break  # the caller refuses it; no need to read on
        lines += chunk.count(b"\n")
        nul = nul or (bom != "utf-16" and b"\x00" in chunk)
        last = chunk[-1:]
        if decodes:
            pending = len(decoder.getstate()[0])  # bytes of a character the previous chunk cut
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                decodes, bad_at = False, max(size - len(chunk) - pending + exc.start, 0)
        if bom is None and is_cp1252 and _CP1252_HOLES.search(chunk):
            is_cp1252 = False
    if decodes and size <= limits.max_bytes:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a multi-byte sequence (or half a UTF-16 unit)
            decodes, bad_at = False, size - len(decoder.getstate()[0])
    binary.seek(0)
    if bom is not None and not decodes and size <= limits.max_bytes:
        name = "UTF-8" if bom == "utf-8-sig" else "UTF-16"
        raise ValidationFailed(
            f"the file starts with a {name} byte-order mark but is not {name} from byte {bad_at:,} on: "
            "save it again as CSV UTF-8",
            errors=[{"field": "file", "message": f"not {name} text"}],
        )
    if last and last != b"\n":
        lines += 1
    encoding = bom or ("utf-8" if decodes else "cp1252" if is_cp1252 else "latin-1")
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
