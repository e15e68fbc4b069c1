"""When a marketing message may go out: local time, quiet hours, country rules, recurrence.

All inputs and outputs are aware datetimes; storage is UTC and the recipient's zone is applied
here, at the edge. The default delivery window is 08:00-21:00 in the recipient's local time
(quiet hours 21:00-08:00). ``COUNTRY_RULES`` narrows it per country: France allows marketing
texts Monday to Saturday 08:00-20:00, never on Sundays or public holidays (CNIL / FFT code of
practice), computed here without a holidays package (Easter from ``dateutil.easter``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.easter import easter
from dateutil.rrule import rrulestr

from core.errors import ValidationFailed
from core.zones import zone as zone  # re-exported: the one reading of a zone name, said scheduling.zone

MAX_SEARCH_DAYS = 14


def aware(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones for UTC columns)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_hhmm(value: str, *, field: str = "time") -> time:
    """``"08:30"`` → ``time(8, 30)``; raises ``ValidationFailed`` naming ``field``."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValidationFailed(f"{field} must be HH:MM, got {value!r}",
                               errors=[{"field": field, "message": "expected HH:MM"}]) from None


@functools.cache
def french_holidays(year: int) -> frozenset[date]:
    """French public holidays (metropolitan) of ``year``."""
    e = easter(year)
    fixed = [date(year, m, d) for m, d in ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))]
    return frozenset([*fixed, e + timedelta(days=1), e + timedelta(days=39), e + timedelta(days=50)])


@dataclass(frozen=True)
class Window:
    """Allowed local sending hours, and whether Sundays / public holidays are closed."""

    start: time = time(8, 0)
    end: time = time(21, 0)
    no_sundays: bool = False
    no_holidays: bool = False

    def narrowed(self, rule: Window) -> Window:
        return Window(start=max(self.start, rule.start), end=min(self.end, rule.end),
                      no_sundays=self.no_sundays or rule.no_sundays, no_holidays=self.no_holidays or rule.no_holidays)


COUNTRY_RULES: dict[str, Window] = {
    "FR": Window(start=time(8, 0), end=time(20, 0), no_sundays=True, no_holidays=True),
}
#: names for wait reasons ("France: no Sunday sends")
COUNTRY_NAMES = {"FR": "France"}
_HOLIDAYS = {"FR": french_holidays}


def window_for(country: str | None, quiet_start: time, quiet_end: time, *, country_rules: bool = True) -> Window:
    """The delivery window for a recipient: outside the quiet hours, narrowed by the country rule."""
    window = Window(start=quiet_end, end=quiet_start)
    rule = COUNTRY_RULES.get((country or "").upper()) if country_rules else None
    return window.narrowed(rule) if rule else window


def closed_day(day: date, country: str | None, window: Window) -> bool:
    """Whether ``window`` closes the whole of ``day`` (a Sunday or public holiday under a country rule)."""
    if window.no_sundays and day.weekday() == 6:
        return True
    holidays = _HOLIDAYS.get((country or "").upper())
    return bool(window.no_holidays and holidays and day in holidays(day.year))


def next_allowed(moment: datetime, *, tz: ZoneInfo, country: str | None, window: Window) -> datetime:
    """The first instant at or after ``moment`` inside ``window`` in ``tz``, returned in UTC.

    Raises:
        ValidationFailed: the window is empty (start not before end) or no day in two weeks is open.
    """
    if window.start >= window.end:
        raise ValidationFailed(f"delivery window {window.start:%H:%M}-{window.end:%H:%M} is empty")
    local = moment.astimezone(tz)
    for _ in range(MAX_SEARCH_DAYS):
        day = local.date()
        if not closed_day(day, country, window):
            opens = datetime.combine(day, window.start, tzinfo=tz)
            closes = datetime.combine(day, window.end, tzinfo=tz)
            if local < opens:
                return opens.astimezone(UTC)
            if local < closes:
                return local.astimezone(UTC)
        local = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    raise ValidationFailed(f"no delivery day found within {MAX_SEARCH_DAYS} days")


def window_close(moment: datetime, *, tz: ZoneInfo, window: Window) -> datetime:
    """When the window open at ``moment`` (as :func:`next_allowed` found it) closes, in UTC: its end on that
    local day."""
    return datetime.combine(moment.astimezone(tz).date(), window.end, tzinfo=tz).astimezone(UTC)


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``tz``, in UTC (a time skipped by DST moves forward)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)
    # zoneinfo accepts non-existent wall times; a round trip through UTC normalises them forward
    return aware.astimezone(UTC)


#: How far in the past a start may be before it is refused: one typed for the minute it is (a few seconds late when
#: confirmed) is meant as now.
PAST_TOLERANCE = timedelta(minutes=5)


def passed(moment: datetime | date, *, now: datetime, tz: ZoneInfo, what: str = "") -> str:
    """Why a start (or the end of a best-time window) is refused as over, or ``""`` when it is not.

    The one rule for the REST API and the console's wizard: a campaign "on 2026-11-20 at 10:00" (a mistyped month)
    was scheduled and sent at once, 11 days late. A date and time (``datetime``) is over when it is more than
    ``PAST_TOLERANCE`` before ``now``; a day (``date``, a send at each recipient's own time) when it is before today
    in ``tz``. The words name today in ``tz`` ("this time has passed (today is Tue 01 Dec 2026, 10:07 in
    Europe/Paris): choose a later one"); the caller adds what else may be chosen (the wizard's "or Now").
    """
    local = now.astimezone(tz)
    if isinstance(moment, datetime):
        if aware(moment) >= now - PAST_TOLERANCE:
            return ""
        today, what = f"today is {local:%a %d %b %Y}, {local:%H:%M}", what or "time"
    else:
        if moment >= local.date():
            return ""
        today, what = f"today is {local:%a %d %b %Y}", what or "day"
    return f"this {what} has passed ({today} in {tz.key}): choose a later one"


def validate_recurrence(rule: str) -> None:
    """Raise ``ValidationFailed`` unless ``rule`` is an RRULE or a five-field cron line."""
    if not rule:
        return
    try:
        next_occurrence(rule, after=datetime(2020, 1, 1, tzinfo=UTC), tz=ZoneInfo("UTC"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed(f"recurrence {rule!r} is neither an RRULE nor a cron expression: {exc}",
                               errors=[{"field": "recurrence", "message": str(exc)}]) from None


def next_occurrence(rule: str, *, after: datetime, tz: ZoneInfo, start: datetime | None = None) -> datetime | None:
    """The next occurrence strictly after ``after`` (UTC), evaluated in ``tz``; ``None`` when over.

    ``rule`` is either an RFC 5545 RRULE (``RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=10;BYMINUTE=0``, the
    ``RRULE:`` prefix optional) or a cron line (``0 10 * * 1``). ``start`` anchors an RRULE
    (its DTSTART; defaults to ``after``).
    """
    text = rule.strip()
    local_after = after.astimezone(tz)
    if text.upper().startswith("RRULE:") or "FREQ=" in text.upper():
        anchor = (start or after).astimezone(tz).replace(second=0, microsecond=0)
        body = text.split(":", 1)[1] if text.upper().startswith("RRULE:") else text
        recurrence = rrulestr(body, dtstart=anchor.replace(tzinfo=None))
        found = recurrence.after(local_after.replace(tzinfo=None), inc=False)
        return None if found is None else found.replace(tzinfo=tz).astimezone(UTC)
    if not croniter.is_valid(text):
        raise ValueError("invalid cron expression")
    found_cron: datetime = croniter(text, local_after).get_next(datetime)
    return found_cron.astimezone(UTC)
