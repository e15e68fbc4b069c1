"""Cells safe to open in a spreadsheet: text that starts like a formula is kept as text.

Excel, LibreOffice and Google Sheets evaluate a CSV cell starting with ``=``, ``+``, ``-`` or ``@``
(and, after trimming, a tab or carriage return) as a formula: ``=HYPERLINK("https://evil", "x")``
typed as a name would become a live link in an admin's export (CSV injection, OWASP). A leading
apostrophe makes the spreadsheet show the text as typed.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``"'" + value`` for text starting like a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
