"""Reading contact files: CSV (encoding detected, delimiter sniffed, streamed) and XLSX (guarded, read-only).

:func:`inspect` looks at a whole upload once, before any row is imported: format, encoding,
delimiter, an estimate of the row count, and the limits (size, zip bombs, over-long XLSX cells).
:func:`read_rows` then yields the header and each row as a list of strings without loading the
file whole. Problems a person can fix raise ``ValidationFailed`` (422) naming the line or part;
files too large to process raise ``PayloadTooLarge`` (413).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
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
    """The delimiter that splits the first lines into the most consistent, widest rows."""
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
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
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
    from openpyxl import load_workbook

    try:
        book = load_workbook(binary, read_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike for a bad file
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None
    try:
        rows = book.worksheets[0].max_row if book.worksheets else None
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


def _xlsx_rows(binary: IO[bytes], limits: FileLimits) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(binary, read_only=True, data_only=True)
    except Exception as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None
    try:
        sheet = book.worksheets[0]
        # a bogus dimension (A1:XFD1048576) would pad every row to 16,384 cells: stop one past the limit
        for values in sheet.iter_rows(values_only=True, max_col=limits.max_columns + 1):
            cells = [_cell(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            yield cells
    finally:
        book.close()
