"""Cells safe to open in a spreadsheet: text that starts like a formula is kept as text.

Excel, LibreOffice and Google Sheets evaluate a CSV cell starting with ``=``, ``+``, ``-`` or ``@``
(and, after trimming, a tab or carriage return) as a formula: ``=HYPERLINK("https://evil", "x")``
typed as a name would become a live link in an admin's export (CSV injection, OWASP). A leading
apostrophe makes the spreadsheet show the text as typed.
"""

from __future__ import annotations

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
