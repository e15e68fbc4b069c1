"""Cells safe to open in a spreadsheet: text that starts like a formula is kept as text.

Excel, LibreOffice and Google Sheets evaluate a CSV cell starting with ``=``, ``+``, ``-`` or ``@``
(and, after trimming, a tab or carriage return) as a formula: ``=HYPERLINK("https://evil", "x")``
typed as a name would become a live link in an admin's export (CSV injection, OWASP). A leading
apostrophe makes the spreadsheet show the text as typed. In an XLSX workbook, text is typed: only
openpyxl's own reading of ``=`` as a formula has to be undone (:func:`append_as_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_CHARS = frozenset("0123456789 .()-+")


def neutralise(value: Any, *, keep_signed_numbers: bool = False) -> Any:
    """``"'" + value`` for text starting like a formula; anything else unchanged.

    ``keep_signed_numbers`` leaves ``+33 6 12 34 56 78`` or ``-4`` as typed (no function can hide in
    digits and signs): the imports' rejected-rows files do, since those are the phone numbers a
    person fixes there and imports again.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if keep_signed_numbers and value[:1] in "+-" and set(value) <= NUMBER_CHARS:
        return value
    return "'" + value


def append_as_text(sheet: Any, values: Iterable[Any]) -> None:
    """``sheet.append(values)`` on an openpyxl worksheet, text starting with ``=`` kept as text.

    openpyxl stores any string starting with ``=`` as a formula, so a name typed as
    ``=HYPERLINK(...)`` would run in the reader's Excel; a text cell shows it as typed, without
    the apostrophe a CSV needs.
    """
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"
