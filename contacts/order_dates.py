"""Which way an order file writes its slash dates: day first (31/12/2011) or month first (12/31/2011).

A date such as 05/01/2024 reads both ways. The order import read every file month first unless told
otherwise (Online Retail's 12/1/2010 8:26), so a French shop's 5 January became 1 May without a word.
Now the file's own dates decide: one whose first number is over 12 says day first, one whose second is
says month first. A file whose dates say both is refused naming a row of each, and one where no date
tells is refused asking which (a wrong month, once recorded, is not corrected by importing again: the
orders are known by then); the report says which way the dates were read and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from contacts.import_values import EXCEL_EPOCH
from core.errors import ValidationFailed

_SLASHED = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/\d{2,4}\b")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_US_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y %H:%M")
_DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%y %H:%M")


@dataclass(frozen=True)
class DateOrder:
    """How the file's slash dates are read, and why in words (``""`` when the file has none)."""

    day_first: bool
    why: str = ""

    @property
    def words(self) -> str:
        """``day first (31/12/2011)`` or ``month first (12/31/2011)``."""
        return "day first (31/12/2011)" if self.day_first else "month first (12/31/2011)"


def date_order(dates: Iterable[tuple[int, str]], *, asked: bool | None) -> DateOrder:
    """The order of ``dates`` (spreadsheet row, cell): ``asked`` when given, else what the cells show.

    Raises:
        ValidationFailed: not asked, and one cell is day first while another is month first, or slash dates
            none of which tells.
    """
    if asked is not None:
        return DateOrder(asked, "as asked")
    day_row = month_row = 0
    slashed = False
    for row, text in dates:
        found = _SLASHED.match(text)
        if not found:
            continue
        slashed = True
        first, second = int(found.group(1)), int(found.group(2))
        # only a date one way reads tells: 13/45/2010 reads neither (its row is rejected as a bad date), and it
        # counted as both, refusing the file "written both day first (row 5) and month first (row 5)"
        if 12 < first <= 31 and second <= 12 and not day_row:
            day_row = row
        if 12 < second <= 31 and first <= 12 and not month_row:
            month_row = row
        if day_row and month_row:
            raise ValidationFailed(
                f"the dates are written both day first (row {day_row}) and month first (row {month_row}): "
                "write them one way (or as 2011-12-31) and import again",
                errors=[{"field": "ordered_at", "message": "dates written both day first and month first"}],
            )
    if day_row or month_row:
        row = day_row or month_row
        return DateOrder(bool(day_row), f"row {row}'s date can only be read that way")
    if not slashed:
        return DateOrder(False)
    # 05/01/2024 read the wrong way is a wrong month that a second import cannot correct (the orders are known by
    # then): asked rather than guessed
    raise ValidationFailed(
        "no date in the file tells day from month (such as 05/01/2024): say which, day first (31/12/2011) or "
        "month first (12/31/2011), and import again",
        errors=[{"field": "day_first", "message": "the file's dates read both ways: say which"}],
    )


def parse_time(text: str, *, day_first: bool = False) -> datetime:
    """An order time from a file: ISO 8601 (``2011-12-09 12:50:00``, offsets kept) or a slash date.

    Raises:
        ValueError: none of the accepted forms.
    """
    text = text.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if _SERIAL.match(text):  # Excel's serial day and time: a date column formatted as General ("45297.4166")
        return EXCEL_EPOCH + timedelta(days=float(text))
    for form in _DAY_FIRST_FORMATS if day_first else _US_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    try:  # Shopify's export: "2024-01-05 10:00:00 +0100"
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None
