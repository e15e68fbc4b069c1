"""Row readers for contact files: CSV (streamed, delimiter sniffed) and XLSX (openpyxl read-only).

Both yield the header first, then each row as a list of strings, without loading the file whole.
A malformed file raises ``ValidationFailed`` naming the line, so the API answers a clear 422.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

from core.errors import ValidationFailed

XLSX_MAGIC = b"PK\x03\x04"
_DELIMITERS = (",", ";", "\t", "|")
MAX_FIELD = 10_000


def is_xlsx(binary: IO[bytes], filename: str = "") -> bool:
    """An XLSX workbook (a zip) by name or by its first bytes; the stream is rewound."""
    start = binary.read(4)
    binary.seek(0)
    return filename.lower().endswith((".xlsx", ".xlsm")) or start == XLSX_MAGIC


def csv_rows(binary: IO[bytes]) -> Iterator[list[str]]:
    """Rows of a UTF-8 CSV (BOM tolerated; ``,`` ``;`` tab or ``|`` picked from the header line).

    Raises:
        ValidationFailed: not UTF-8, an unterminated quote, a field over 10,000 characters.
    """
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text (line 1); save it as CSV UTF-8") from None
    if not first.strip():
        raise ValidationFailed("the file is empty: expected a header row naming the columns")
    delimiter = max(_DELIMITERS, key=first.count)
    reader = csv.reader(_chain(first, text), delimiter=delimiter, strict=True)
    line = 0
    try:
        for row in reader:
            line = reader.line_num
            if any(len(cell) > MAX_FIELD for cell in row):
                raise ValidationFailed(
                    f"malformed CSV at line {line}: a field is longer than {MAX_FIELD} characters"
                )
            yield row
    except csv.Error as exc:
        raise ValidationFailed(f"malformed CSV at line {reader.line_num or line + 1}: {exc}") from None
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"the file is not UTF-8 text (after line {line}); save it as CSV UTF-8"
        ) from None
    finally:
        with contextlib.suppress(ValueError):  # the caller may have closed the file already
            text.detach()  # leave the binary stream open for the caller


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


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


def xlsx_rows(binary: IO[bytes]) -> Iterator[list[str]]:
    """Rows of the first worksheet of an XLSX workbook, streamed (read-only mode).

    Raises:
        ValidationFailed: not a readable workbook.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(binary, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike for a bad file
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}") from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        book.close()


def xlsx_row_estimate(binary: IO[bytes]) -> int | None:
    """The sheet's declared row count (for a progress bar), ``None`` when the file does not say."""
    from openpyxl import load_workbook

    book = load_workbook(binary, read_only=True)
    try:
        rows = book.worksheets[0].max_row
    finally:
        book.close()
        binary.seek(0)
    return max(rows - 1, 0) if rows else None
