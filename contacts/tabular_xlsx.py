"""Reading XLSX uploads for ``contacts.tabular``: guarded against bombs before openpyxl loads them, read-only.

A workbook's sheets (which are visible), the columns a sheet hides, and its rows as a spreadsheet shows them: a
value merged over several rows is read on each.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any
from xml.parsers import expat

from contacts.file_limits import FileLimits
from core.errors import PayloadTooLarge, ValidationFailed

READ_CHUNK = 1 << 20
# an entry inflating more than this (and over 1 MiB) is a zip bomb, not a spreadsheet
MAX_ZIP_RATIO = 200
# the uncompressed parts together may be this many times the upload limit
MAX_UNCOMPRESSED_FACTOR = 20
# openpyxl holds the shared-strings table in memory; it may be this many times the upload limit
SHARED_STRINGS_FACTOR = 2
# a spreadsheet has at most 16,384 columns (XFD): a row with more cells is not one
MAX_ROW_CELLS = 16_384
# merged ranges a sheet may hold: the rows' reader keeps those spanning rows in memory (about 150 bytes each)
MAX_MERGED_RANGES = 1_000_000


def check_xlsx(binary: IO[bytes], limits: FileLimits) -> int | None:
    """Refuse bombs, damaged archives, over-wide rows and over-long cells from the zip directory and a streamed scan
    of the XML, before openpyxl materialises anything. Returns the data rows of the largest visible sheet, counted
    in its XML (a declared dimension is the writer's word, and a row numbered 2,500,000 in a 2 KB file had a worker
    walk 2,000,000 empty rows before refusing it)."""
    binary.seek(0, io.SEEK_END)
    if binary.tell() > limits.max_bytes:
        raise PayloadTooLarge(f"the file is larger than {limits.max_bytes:,} bytes")
    binary.seek(0)
    try:
        archive = zipfile.ZipFile(binary)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None
    rows: dict[str, int] = {}
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
                rows[info.filename] = _scan_part(archive, info, limits.max_cell)
    binary.seek(0)
    return _visible_rows(binary, rows)


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> int:
    """Stream one part through expat without keeping it: each text node's length (at most ``limit``), each row's
    cells (at most :data:`MAX_ROW_CELLS`); returns the highest row number (0 for the shared strings).

    openpyxl parses a row whole before it drops the columns past the import's: one row of 400,000 cells in a 1.7 MB
    file took 330 MB and 32 s, and a 50 MB upload would have taken the process's memory. A part the archive cannot
    give back (a bad CRC, a size that lies, damaged deflate data, an encrypted or unknown compression) answered 500.
    """
    parser = expat.ParserCreate()
    name = info.filename
    run = cells = row = highest = merges = 0

    def start(element: str, attributes: dict[str, str]) -> None:
        nonlocal run, cells, row, highest, merges
        run = 0
        local = element.rpartition(":")[2]
        if local == "c":
            cells += 1
            if cells > MAX_ROW_CELLS:
                raise ValidationFailed(
                    f"row {row:,} of the workbook ({name}) holds more than {MAX_ROW_CELLS:,} cells, more than a "
                    "spreadsheet has columns",
                    errors=[{"field": "file", "message": f"rows are limited to {MAX_ROW_CELLS:,} cells"}],
                )
        elif local == "row":
            cells = 0
            number = attributes.get("r", "")
            row = int(number) if number.isascii() and number.isdigit() and len(number) < 10 else row + 1
            highest = max(highest, row)
        elif local == "mergeCell":
            merges += 1
            if merges > MAX_MERGED_RANGES:
                raise ValidationFailed(
                    f"the workbook ({name}) merges more than {MAX_MERGED_RANGES:,} ranges of cells; save the sheet "
                    "as CSV",
                    errors=[{"field": "file"}],
                )
            if not _fits_a_sheet(attributes.get("ref", "")):
                raise ValidationFailed(
                    f"the workbook ({name}) merges cells outside a spreadsheet: {attributes.get('ref', '')[:40]}",
                    errors=[{"field": "file"}],
                )

    def end(_: str) -> None:
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

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        with archive.open(info) as part:
            for chunk in iter(lambda: part.read(READ_CHUNK), b""):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {name}: {exc}", errors=[{"field": "file"}]) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ValidationFailed(
            f"not a readable XLSX workbook: {name} is damaged ({exc})", errors=[{"field": "file"}]
        ) from None
    return highest


def _fits_a_sheet(ref: str) -> bool:
    """Whether a merged range lies within a sheet's 1,048,576 rows and 16,384 columns. openpyxl reads ``mergeCells``
    after the rows and raised ValueError on one past them: the import had written every row when its job failed,
    and the queue retried it three times."""
    from openpyxl.utils.cell import range_boundaries

    try:
        bounds = range_boundaries(ref)
    except (ValueError, TypeError):
        return False
    return all(b is not None and 1 <= b <= limit for b, limit in zip(bounds, (16_384, 1_048_576) * 2, strict=True))


def _visible_rows(binary: IO[bytes], rows: dict[str, int]) -> int | None:
    """Data rows (the header's excluded) of the largest visible sheet, from the rows counted per part."""
    book = _open_book(binary)
    try:
        sheets = [s for s in book.worksheets if s.sheet_state == "visible"] or book.worksheets
        paths = [getattr(sheet, "_worksheet_path", "") for sheet in sheets]
    finally:
        book.close()
        binary.seek(0)
    counted = max((rows.get(path, 0) for path in paths), default=0)
    return max(counted - 1, 0) if counted else None


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


class _Done(Exception):
    """Stops an expat pass once what it looks for is read."""


def _hidden_columns(binary: IO[bytes], path: str) -> frozenset[int]:
    """The 0-based positions of the columns hidden in the sheet part ``path`` (``<cols>`` comes before the sheet's
    data, so only the start of the part is read)."""
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


class Workbook:
    """One openpyxl load of an upload, for everything a read asks of it: its sheets, which are visible, the columns
    one hides, its rows. Each load parses the whole shared-strings table: a 5 MB workbook of 2,000,000 short texts
    took 35 s a load, and finding the header loaded it four times (names, rows, every name, hidden columns).

    Raises (constructor):
        ValidationFailed: not a readable workbook.
    """

    def __init__(self, binary: IO[bytes]) -> None:
        self.binary = binary
        self.book = _open_book(binary)

    def close(self) -> None:
        self.book.close()

    @property
    def sheets(self) -> tuple[str, ...]:
        """Every sheet's name, in order."""
        return tuple(sheet.title for sheet in self.book.worksheets)

    def visible(self) -> list[str]:
        """The sheets a person sees, in order (a hidden one holds lookups, not the list)."""
        return [sheet.title for sheet in self.book.worksheets if sheet.sheet_state == "visible"]

    def hidden_columns(self, sheet_name: str) -> frozenset[int]:
        """The 0-based positions of the columns hidden in ``sheet_name``."""
        if sheet_name not in self.book.sheetnames:
            return frozenset()
        path = getattr(self.book[sheet_name], "_worksheet_path", "")
        return _hidden_columns(self.binary, path) if path else frozenset()

    def rows(self, limits: FileLimits, sheet_name: str | None = None) -> Iterator[list[str]]:
        """The rows of ``sheet_name`` (the first visible sheet when None). A value merged over several rows (a
        store, a consent answer given once for a group) is read on each of them, as the spreadsheet shows it:
        openpyxl's read-only mode gives it to the first row only, and the others were imported without it."""
        visible = [s for s in self.book.worksheets if s.sheet_state == "visible"] or self.book.worksheets
        sheet = self.book[sheet_name] if sheet_name else visible[0]
        merged: dict[int, list[tuple[int, int, int]]] = {}
        path = getattr(sheet, "_worksheet_path", "")
        if path:
            with zipfile.ZipFile(self.binary) as archive, archive.open(path) as part:
                merged = _merged_down(part)
        # a bogus dimension (A1:XFD1048576) would pad every row to 16,384 cells: stop one past the limit
        values_by_row = sheet.iter_rows(values_only=True, max_col=limits.max_columns + 1)
        yield from _merged_rows(_readable(values_by_row), merged, limits)


def _readable(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """openpyxl's rows, its errors on a malformed part typed as the file's: the checks read what openpyxl refuses
    only in part, and an unexpected error in the worker was retried three times before the import failed."""
    try:
        yield from rows
    except (ValueError, TypeError, KeyError, IndexError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValidationFailed(f"not a readable XLSX workbook: {exc}", errors=[{"field": "file"}]) from None


def _merged_rows(
    values_by_row: Iterator[tuple[Any, ...]], merged: dict[int, list[tuple[int, int, int]]], limits: FileLimits
) -> Iterator[list[str]]:
    """Each row's cells as text, a merged value read down the rows its range covers (``merged``: first row →
    ``[(column, first row, last row)]``), trailing empty cells dropped."""
    # column → (last row, value) of the merged range being read down: one a column (ranges do not overlap in a
    # spreadsheet; 29,000 copies of one range in a 2 KB file made every row walk them all)
    running: dict[int, tuple[int, str]] = {}
    for number, values in enumerate(values_by_row, 1):
        cells = [_cell(v) for v in values]
        running = {column: r for column, r in running.items() if r[0] >= number}
        for column, (_, value) in sorted(running.items()):
            if column < len(cells) and cells[column] == "":
                cells[column] = value
            elif column >= len(cells) and column <= limits.max_columns:
                cells.extend([""] * (column - len(cells)) + [value])
        for column, _, last in merged.pop(number, []):
            if column < len(cells) and cells[column]:
                running[column] = (last, cells[column])
        while cells and cells[-1] == "":
            cells.pop()
        yield cells


def closing_rows(rows: Iterator[list[str]], book: Workbook) -> Iterator[list[str]]:
    """``rows``, then ``book`` closed (also when the reader stops early and drops the iterator)."""
    try:
        yield from rows
    finally:
        book.close()


def xlsx_rows(binary: IO[bytes], limits: FileLimits, sheet_name: str | None = None) -> Iterator[list[str]]:
    """The rows of ``sheet_name`` (the first visible sheet when None), from a load of their own."""
    book = Workbook(binary)
    return closing_rows(book.rows(limits, sheet_name), book)
