"""The first rows of an uploaded file, kept with its import draft so a change of a column's field previews again
without reading the file.

A preview reads a file's head only (the header among its first rows, then 20 rows), but getting there reads the
whole of a workbook: the limits' scan of its XML, openpyxl's shared strings, the sheet's merged ranges (they follow
its rows). A 16 MB workbook of 400,000 rows took 78 s (on the shared 2-core machine) for every change of a column's
field in the import wizard, where a CSV of 44 MB takes 0.4 s. The first preview now keeps what it read
(:func:`read`): the file's shape and, per sheet read, its first :data:`HEAD_ROWS` rows, stored encrypted with the
draft in the database (``contacts.import_drafts``), so any host previews the next choice from them. A choice
whose preview needs what the head lacks (a header found only on a sheet not read, more rows than kept) raises
:class:`NotInHead`, and the file is read again.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import IO, Any

from contacts.file_limits import FileLimits
from contacts.tabular import (
    HEADER_SCAN,
    FileShape,
    Table,
    header_position,
    inspect,
    plain_table,
    read_rows,
    sheet_table,
)
from contacts.tabular_xlsx import Workbook

#: rows kept per sheet: the header may be the 10th, then the preview's 20 rows with blank ones between them
HEAD_ROWS = HEADER_SCAN + 50
#: a head holding more characters than this is not kept (200 columns of 2,000-character cells): the file is
#: read again for each choice, as before
MAX_KEPT_CHARS = 2_000_000


class NotInHead(Exception):
    """The preview needs rows the head does not hold: read the file."""


@dataclass(frozen=True)
class SheetHead:
    """A sheet's (or a CSV file's) first rows as read, and whether the sheet ends there."""

    rows: list[list[str]]
    complete: bool
    hidden: frozenset[int] = frozenset()  # a workbook's hidden columns (0-based)


@dataclass(frozen=True)
class FileHead:
    """What a preview reads of a file: its shape, its sheets and the first rows of each sheet read (in order, up to
    the one holding the header; ``""`` for a CSV file). A :class:`contacts.tabular.Sheets` for ``sheet_table``."""

    shape: FileShape
    sheets: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()  # the visible sheets, in order
    heads: dict[str, SheetHead] = field(default_factory=dict)

    def visible(self) -> list[str]:
        return list(self.shown)

    def rows(self, limits: FileLimits, sheet_name: str | None = None) -> Iterator[list[str]]:
        """The kept rows of ``sheet_name`` (the first visible one when None).

        Raises (on iteration):
            NotInHead: the sheet was not read, or its rows are wanted past those kept.
        """
        head = self.heads.get(sheet_name or (self.shown[0] if self.shown else ""))
        if head is None:
            raise NotInHead(f"the sheet {sheet_name!r} was not read")
        yield from head.rows
        if not head.complete:
            raise NotInHead(f"more than the first {len(head.rows)} rows are needed")

    def hidden_columns(self, sheet_name: str) -> frozenset[int]:
        head = self.heads.get(sheet_name)
        return head.hidden if head else frozenset()

    def table(self, limits: FileLimits, is_header: Callable[[list[str]], bool]) -> Table:
        """``contacts.tabular.read_table`` of the file, from its head.

        Raises:
            NotInHead: the head cannot tell (iterating the table's rows may raise it too).
            ValidationFailed: as ``read_table``.
        """
        if self.shape.format == "xlsx":
            return sheet_table(self, limits, is_header)
        return plain_table(self.rows(limits), is_header)

    def size(self) -> int:
        """Characters held in cells."""
        return sum(len(cell) for head in self.heads.values() for row in head.rows for cell in row)

    def to_json(self) -> dict[str, Any]:
        return {"shape": asdict(self.shape), "sheets": list(self.sheets), "shown": list(self.shown),
                "heads": {name: {"rows": h.rows, "complete": h.complete, "hidden": sorted(h.hidden)}
                          for name, h in self.heads.items()}}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileHead:
        heads = {name: SheetHead(h["rows"], h["complete"], frozenset(h["hidden"])) for name, h in data["heads"].items()}
        return cls(FileShape(**data["shape"]), tuple(data["sheets"]), tuple(data["shown"]), heads)


def read(binary: IO[bytes], filename: str, limits: FileLimits, is_header: Callable[[list[str]], bool]) -> FileHead:
    """Check the whole file (``contacts.tabular.inspect``) and read its head: the sheets ``read_table`` would read
    with ``is_header``, the first :data:`HEAD_ROWS` rows of each. The stream is rewound.

    Raises:
        PayloadTooLarge / ValidationFailed: as ``inspect``; an unreadable workbook, a malformed CSV.
    """
    shape = inspect(binary, filename, limits)
    try:
        if shape.format != "xlsx":
            return FileHead(shape, heads={"": _first(read_rows(binary, shape, limits))})
        book = Workbook(binary)
        try:
            shown = book.visible()
            heads: dict[str, SheetHead] = {}
            for name in shown or [""]:
                head = _first(book.rows(limits, name or None))
                heads[name] = SheetHead(head.rows, head.complete, book.hidden_columns(name))
                if header_position(head.rows[:HEADER_SCAN], is_header) is not None:
                    break  # read_table stops at this sheet
            return FileHead(shape, book.sheets, tuple(shown), heads)
        finally:
            book.close()
    finally:
        binary.seek(0)


def _first(rows: Iterator[list[str]]) -> SheetHead:
    with closing(rows) if isinstance(rows, Generator) else nullcontext():  # the CSV reader detaches its text layer
        kept = list(islice(rows, HEAD_ROWS + 1))
    return SheetHead(kept[:HEAD_ROWS], len(kept) <= HEAD_ROWS)
