"""Business hours and the auto-reply sent when a message needs a person while nobody is there.

The hours come from the business profile (``hours:`` in the profile YAML, see
``agent.runtime``)::

    hours:
      timezone: Europe/Paris
      weekly: {mon: "09:00-18:00", tue: "09:00-18:00", sat: "10:00-13:00 14:00-17:00", sun: closed}
      closed_reply:
        en: "We're closed now; an advisor will answer from {opens}."
        fr: "Nous sommes fermés ; un conseiller vous répondra dès {opens}."

A day left out is closed. ``{opens}`` is filled with the next opening in the business's timezone,
written the customer's way (Babel's weekday names and times): "today" or "tomorrow" when it is on
the business's current or next day, else the weekday: "9:00 AM today", "demain 9 h", "el lunes a las
9:00", "Montag 9:00 Uhr". It reads after the language's word for "from" ("from {opens}", "dès
{opens}", "a partir de {opens}", "ab {opens}", "a partire da {opens}"). A text sent at 03:00 on a
Tuesday said "from Tuesday 9:00", as if nobody would answer for a week. No ``hours:`` section means
always open (no auto-reply).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

DEFAULT_CLOSED_REPLY: dict[str, str] = {
    "en": "Thanks for your message. We're closed right now; an advisor will reply from {opens}.",
    "fr": "Merci pour votre message. Nous sommes fermés ; un conseiller vous répondra dès {opens}.",
    "es": "Gracias por su mensaje. Estamos cerrados; un asesor le responderá a partir de {opens}.",
    "de": "Danke für Ihre Nachricht. Wir haben geschlossen; ein Berater antwortet ab {opens}.",
    "it": "Grazie del messaggio. Siamo chiusi; un consulente risponderà a partire da {opens}.",
    "pt": "Obrigado pela mensagem. Estamos fechados; um atendente responderá a partir de {opens}.",
}


class HoursError(ValueError):
    """The ``hours:`` section is malformed; the message names the field."""


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening ranges in ``timezone``; ``weekly[d]`` is a tuple of (start, end) for day d (0=Mon)."""

    timezone: str = "UTC"
    weekly: tuple[tuple[tuple[time, time], ...], ...] = ()
    closed_reply: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLOSED_REPLY))

    @property
    def always_open(self) -> bool:
        return not self.weekly

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware; naive means UTC) falls in an opening range."""
        if self.always_open:
            return True
        local = as_utc(at).astimezone(ZoneInfo(self.timezone))
        now = local.time()
        return any(start <= now < end for start, end in self.weekly[local.weekday()])

    def next_opening(self, at: datetime) -> datetime | None:
        """The next opening time after ``at`` in the business's timezone (None if never open)."""
        if self.always_open:
            return None
        local = as_utc(at).astimezone(ZoneInfo(self.timezone))
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for start, _ in sorted(self.weekly[day.weekday()]):
                candidate = datetime.combine(day, start, tzinfo=local.tzinfo)
                if candidate > local:
                    return candidate
        return None

    def closed_reply_for(self, language: str, at: datetime) -> str:
        """The after-hours auto-reply in ``language`` (English when the profile lacks it), its ``{opens}`` the
        next opening after ``at`` said from the business's day at ``at``: today, tomorrow or a weekday."""
        template = self.closed_reply.get(language) or self.closed_reply.get("en") or DEFAULT_CLOSED_REPLY["en"]
        written = language if self.closed_reply.get(language) else "en"
        opening = self.next_opening(at)
        if opening is None:
            return template.replace("{opens}", "")
        today = as_utc(at).astimezone(ZoneInfo(self.timezone)).date()
        if written == "es":
            # "a partir del lunes" (de + el), "a partir de hoy": the article belongs to the weekday alone
            template = template.replace("del {opens}", "de {opens}")
        reply = template.replace("{opens}", format_opening(opening, written, today=today))
        return reply.replace(" de el ", " del ") if written == "es" else reply


#: Time patterns (CLDR syntax) where the locale's short time is not how people write it in an SMS.
_TIME_PATTERNS: dict[str, tuple[str, str]] = {"fr": ("H 'h'", "H 'h' mm")}

#: "today" and "tomorrow" in the supported languages (Babel has no standalone word for them).
_RELATIVE_DAYS: dict[str, tuple[str, str]] = {
    "en": ("today", "tomorrow"), "fr": ("aujourd'hui", "demain"), "es": ("hoy", "mañana"),
    "de": ("heute", "morgen"), "it": ("oggi", "domani"), "pt": ("hoje", "amanhã"),
}


def format_opening(opening: datetime, language: str, *, today: date | None = None) -> str:
    """``opening`` as a day and a time in ``language``, read after the language's "from": "Monday 9:00 AM",
    "9:00 AM today", "lundi 9 h", "demain 9 h", "el lunes a las 9:00", "heute 9:00 Uhr", "lunedì alle 9:00",
    "amanhã às 9:00". ``today`` is the business's date when the reply is written: an opening on it or the day
    after is "today" / "tomorrow" (a weekday alone reads as next week's); without it, the weekday."""
    try:
        locale = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        locale = Locale.parse("en")
    lang = locale.language if locale.language in _RELATIVE_DAYS else "en"
    if lang != locale.language:
        locale = Locale.parse("en")
    days = (opening.date() - today).days if today is not None else None
    relative = _RELATIVE_DAYS[lang][days] if days in (0, 1) else None
    weekday = format_date(opening, "EEEE", locale=locale)
    on_the_hour, with_minutes = _TIME_PATTERNS.get(lang, ("", ""))
    if on_the_hour:
        clock = format_time(opening, on_the_hour if opening.minute == 0 else with_minutes, locale=locale)
    elif lang == "en":
        clock = format_time(opening, "h:mm a", locale=locale)
    else:
        clock = format_time(opening, "H:mm", locale=locale)
    if lang == "en":
        return f"{clock} {relative}" if relative else f"{weekday} {clock}"
    if lang == "es":
        at_clock = f"a la {clock}" if opening.hour == 1 else f"a las {clock}"
        return f"{relative or 'el ' + weekday} {at_clock}"
    if lang == "it":
        at_clock = f"all'{clock}" if opening.hour == 1 else f"alle {clock}"
        return f"{relative or weekday} {at_clock}"
    if lang == "pt":
        at_clock = f"à {clock}" if opening.hour == 1 else f"às {clock}"
        return f"{relative or weekday} {at_clock}"
    if lang == "de":
        return f"{relative or weekday} {clock} Uhr"
    return f"{relative or weekday} {clock}"


def as_utc(at: datetime) -> datetime:
    """``at`` made aware: a naive datetime is UTC (SQLite hands stored datetimes back naive)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))


def _ranges(day: str, value: Any) -> tuple[tuple[time, time], ...]:
    if value is None or str(value).strip().lower() in {"", "closed"}:
        return ()
    ranges = []
    for part in str(value).split():
        match = _RANGE.match(part)
        if not match:
            raise HoursError(f"hours.weekly.{day}: {part!r} is not a range such as 09:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h1, m1) >= (h2, m2):
            raise HoursError(f"hours.weekly.{day}: {part!r} is not a valid range")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        ranges.append((time(h1, m1), end))
    return tuple(ranges)


def parse_hours(data: Mapping[str, Any] | None) -> BusinessHours:
    """Build :class:`BusinessHours` from the profile's ``hours:`` mapping; raises :class:`HoursError`."""
    if not data:
        return BusinessHours()
    timezone = str(data.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"hours.timezone: unknown timezone {timezone!r}") from None
    weekly_in = data.get("weekly") or {}
    if not isinstance(weekly_in, Mapping):
        raise HoursError("hours.weekly: expected a mapping of day -> ranges")
    unknown = set(weekly_in) - set(DAYS)
    if unknown:
        raise HoursError(f"hours.weekly: unknown days {sorted(unknown)} (use {', '.join(DAYS)})")
    weekly = tuple(_ranges(day, weekly_in.get(day)) for day in DAYS)
    replies = dict(DEFAULT_CLOSED_REPLY)
    replies.update({str(k): str(v) for k, v in (data.get("closed_reply") or {}).items()})
    return BusinessHours(timezone=timezone, weekly=weekly, closed_reply=replies)
