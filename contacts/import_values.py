"""Numbers and dates as spreadsheets write them in a file, read for number and date attributes.

A French or German Excel writes ``12,50`` and ``31/12/1980`` (``31.12.1980``); a column it took for numbers
holds ``29586`` for a date (its serial day). ``contacts.attributes.coerce`` takes ``12.5`` and ``1980-12-31``
only (the API's forms), so every such row was rejected. Only what cannot be misread is read: a comma followed
by exactly three digits (``1,234``: a thousand, or one and a quarter?) and a slash date in the other order
than the deployment's region writes them are refused with the reason, never guessed.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from contacts.attributes import BadAttributeValue

#: regions whose slash dates are month first (12/31/1980); everywhere else they are day first
MONTH_FIRST = frozenset({"US", "PH", "PR", "GU", "VI", "AS", "MP", "UM", "FM", "MH", "PW"})
_EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's serial dates (its 1900 leap-year bug included)
_SERIAL = re.compile(r"^\d{5}(?:\.0+)?$")  # 10000 (1927) to 99999 (2173)
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_MONEY = re.compile(r"^[€$£]|[€$£]$|\s?(?:EUR|USD|GBP|CHF)$", re.IGNORECASE)


def file_number(text: str) -> str:
    """``text`` as the API's number text: ``12,50`` → ``12.50``, ``1 234,5`` → ``1234.5``, ``1.234,56`` →
    ``1234.56``, ``1,234.56`` → ``1234.56``, ``12,50 €`` → ``12.50``; anything else unchanged.

    Raises:
        BadAttributeValue: ``1,234`` (a comma then three digits, with no other separator): a thousand or a
            decimal, said rather than guessed.
    """
    value = _SPACES.sub("", _MONEY.sub("", text.strip()))
    comma, dot = value.rfind(","), value.rfind(".")
    if comma < 0:
        return value
    if dot >= 0:  # both: the last one is the decimal separator
        return value.replace(",", "") if dot > comma else value.replace(".", "").replace(",", ".")
    if value.count(",") > 1:
        return value.replace(",", "")  # 1,234,567
    if len(value) - comma - 1 == 3:
        raise BadAttributeValue("a comma then three digits: write 1234 for a thousand, 1.234 for a decimal")
    return value.replace(",", ".")


def file_date(text: str, region: str | None) -> str:
    """``text`` as ``YYYY-MM-DD`` when a spreadsheet wrote it otherwise: ``31/12/1980``, ``31.12.1980``,
    ``12/31/1980`` (in a month-first region, :data:`MONTH_FIRST`), an Excel serial day (``29586``); anything
    else unchanged (``1980-12-31``).

    Raises:
        BadAttributeValue: a slash date that is impossible in the region's order (``12/31/1980`` where dates
            are day first): the file writes them the other way round, which is said, not guessed.
    """
    value = text.strip()
    if _SERIAL.match(value):
        return (_EXCEL_EPOCH + timedelta(days=int(float(value)))).isoformat()
    found = _SLASHED.match(value)
    if not found:
        return value
    first, second, year = (int(part) for part in found.groups())
    month_first = (region or "").upper() in MONTH_FIRST and value[len(found.group(1))] != "."  # 31.12.: German
    day, month = (second, first) if month_first else (first, second)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        order = "month first (MM/DD/YYYY)" if month_first else "day first (DD/MM/YYYY)"
        raise BadAttributeValue(
            f"not a date read {order}, as this deployment's region writes them: write it as YYYY-MM-DD"
        ) from None
