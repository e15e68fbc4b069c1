"""Cells as spreadsheets write them: numbers and dates for attributes, phone numbers, totals rows.

A French or German Excel writes ``12,50`` and ``31/12/1980`` (``31.12.1980``); a column it took for numbers
holds ``29586`` for a date (its serial day). ``contacts.attributes.coerce`` takes ``12.5`` and ``1980-12-31``
only (the API's forms), so every such row was rejected. Only what cannot be misread is read: a comma followed
by exactly three digits (``1,234``: a thousand, or one and a quarter?) and a slash date in the other order
than the deployment's region writes them are refused with the reason, never guessed.

Phone numbers: :func:`read_phone` puts back the ``+`` a spreadsheet dropped from an international mobile
kept as a number (and says so); :func:`mobile_of_row` takes the number a row types as a mobile (Google
Contacts' "Phone N - Type"); :data:`TWO_NUMBERS` and :func:`totals_word` name why a cell is no number when it
holds two, or stands on the totals row.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from channels.phone import InvalidPhoneNumber, PhoneInfo, phone_info
from contacts.attributes import BadAttributeValue
from core.text import fold_words

#: regions whose slash dates are month first (12/31/1980); everywhere else they are day first
MONTH_FIRST = frozenset({"US", "PH", "PR", "GU", "VI", "AS", "MP", "UM", "FM", "MH", "PW"})
EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's serial dates (its 1900 leap-year bug included)
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
        return (EXCEL_EPOCH + timedelta(days=int(float(value)))).date().isoformat()
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


#: the first word of a spreadsheet's totals row, in the product's languages
_TOTALS = frozenset({"total", "totals", "grand total", "sous total", "total general", "totaux", "summe", "gesamt",
                     "gesamtsumme", "totale", "suma", "sum"})


#: two numbers of 8 digits or more in one cell, separated by a slash, "or", "ou", "oder", a bar or a comma
_DIGITS = r"\d(?:[\s.\-()]*\d){7,}"
TWO_NUMBERS = re.compile(rf"{_DIGITS}\s*(?:/|\||,|;|:::|\bou\b|\bor\b|\boder\b|\by\b|\bo\b)\s*\+?{_DIGITS}",
                         re.IGNORECASE)  # ":::" is how Google Contacts joins two numbers of one type


def read_phone(raw: str, region: str | None, field: str) -> tuple[PhoneInfo | None, str]:
    """The number of a cell and, when it needed its ``+`` put back (:func:`without_plus`), the warning; else
    None and why it is no number."""
    try:
        return phone_info(raw, region=region, field=field), ""
    except InvalidPhoneNumber as exc:
        info = without_plus(raw, field)
        if info is None:
            return None, str(exc.errors[0]["message"])
        return info, (f"read as +{info.country_code}, a number of {info.region or 'another country'}: "
                      "its + was missing (a spreadsheet keeps numbers as numbers)")


def without_plus(raw: str, field: str) -> PhoneInfo | None:
    """The mobile ``raw`` is when read with a ``+``, for all-digit numbers of 10 digits or more that are no number
    of the row's region: an international list typed into Excel as numbers ("4915123456789", its + dropped)
    had those rows rejected "too long". Mobiles only: a landline read so would be a guess nobody can text."""
    digits = re.sub(r"[\s.\-]", "", raw)
    if not digits.isdigit() or len(digits) < 10 or digits.startswith("0"):
        return None
    try:
        info = phone_info("+" + digits, field=field)
    except InvalidPhoneNumber:
        return None
    return info if info.line_type in ("mobile", "fixed_line_or_mobile") else None


def totals_word(cells: list[str]) -> str:
    """The cell naming a totals row ("Total", "Sous-total", "Summe"), "" when the row is not one."""
    first = next((cell.strip() for cell in cells if cell.strip()), "")
    return first if fold_words(first) in _TOTALS else ""


#: what a "Phone N - Type" cell says of a mobile (Google Contacts writes "Mobile", its primary one "* Mobile")
_MOBILE_KINDS = frozenset({"mobile", "cell", "cellular", "portable", "handy", "movil", "celular", "cellulare"})


def phone_kinds(header: list[str], phone: int) -> list[tuple[int, int]]:
    """(type column, number column) of Google Contacts' "Phone N - Type" / "Phone N - Value" pairs, when the phone
    column read is one of them; [] otherwise."""
    keys = [fold_words(h) for h in header]
    pairs = []
    for position, key in enumerate(keys):
        found = re.fullmatch(r"phone (\d+) value", key)
        if found:
            kinds = [i for i, k in enumerate(keys) if k in (f"phone {found[1]} type", f"phone {found[1]} label")]
            if kinds:
                pairs.append((kinds[0], position))
    return pairs if any(number == phone for _, number in pairs) else []


def mobile_of_row(cells: list[str], pairs: list[tuple[int, int]]) -> str:
    """The row's number its type calls a mobile, "" when none does: Google Contacts lists a person's numbers as
    "Phone 1", "Phone 2"… in no order, and the one read ("Phone 1 - Value") was often the office line."""
    for kind, number in pairs:
        if number < len(cells) and cells[number].strip() and kind < len(cells) and (
            _MOBILE_KINDS & set(fold_words(cells[kind]).split())
        ):
            return cells[number].strip()
    return ""
