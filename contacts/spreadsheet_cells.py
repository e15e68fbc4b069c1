"""Cells written to CSV files a person opens in a spreadsheet: formulas neutralised (CSV injection).

Used by the contact export and by the rejected-rows files of the contact and order imports.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_CHARS = frozenset("0123456789 .()-+")


def neutralise_formula(cell: str) -> str:
    """``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)`` so a spreadsheet shows it as text.

    Signed numbers (``+33 6 12 34 56 78``, ``-4``) stay as typed: they carry no function, and they
    are the phone numbers a person fixes in a rejected-rows file and imports again.
    """
    if cell[:1] in FORMULA_STARTS and not (cell[:1] in "+-" and set(cell) <= NUMBER_CHARS):
        return "'" + cell
    return cell
