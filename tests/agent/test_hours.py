"""Business hours of the profile: open/closed, the next opening, the after-hours reply, bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from agent.hours import HoursError, format_opening, parse_hours

HOURS = parse_hours({
    "timezone": "Europe/Paris",
    "weekly": {"mon": "09:00-18:00", "tue": "09:00-12:00 14:00-18:00", "sat": "10:00-13:00", "sun": "closed"},
    "closed_reply": {"fr": "Fermé ; réponse dès {opens}."},
})


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), True),     # Monday 09:00 in Paris (UTC+1)
        (datetime(2026, 11, 23, 7, 59, tzinfo=UTC), False),   # Monday 08:59
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), False),   # Monday 18:00: the end is excluded
        (datetime(2026, 11, 24, 12, 0, tzinfo=UTC), False),   # Tuesday 13:00, the lunch break
        (datetime(2026, 11, 24, 13, 30, tzinfo=UTC), True),   # Tuesday 14:30
        (datetime(2026, 11, 25, 10, 0, tzinfo=UTC), False),   # Wednesday: not listed, closed
        (datetime(2026, 11, 29, 10, 0), False),               # Sunday, naive means UTC
    ],
)
def test_is_open(utc: datetime, is_open: bool) -> None:
    assert HOURS.is_open(utc) is is_open


def test_next_opening_and_the_closed_reply() -> None:
    saturday_evening = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    opening = HOURS.next_opening(saturday_evening)
    assert opening is not None and (opening.weekday(), opening.hour) == (0, 9)
    assert HOURS.closed_reply_for("fr", saturday_evening) == "Fermé ; réponse dès lundi 9 h."
    tuesday_lunch = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert "Tuesday 2:00 PM" in HOURS.closed_reply_for("en", tuesday_lunch)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "a partir del lunes 9:00."),
        ("de", "ab Montag 9:00."),
        ("it", "da lunedì 9:00."),
        ("pt", "a partir de segunda-feira 9:00."),
        ("nl", "from Monday 9:00 AM."),  # no Dutch text: the English one, with an English weekday
    ],
)
def test_the_next_opening_is_written_in_the_customers_language(language: str, expected: str) -> None:
    saturday_evening = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    reply = HOURS.closed_reply_for(language, saturday_evening)
    assert reply.endswith(expected) and not re.search(r"\bMon\b", reply)


def test_french_times_with_minutes() -> None:
    assert format_opening(datetime(2026, 11, 28, 14, 30), "fr") == "samedi 14 h 30"


def test_no_hours_means_always_open() -> None:
    always = parse_hours(None)
    assert always.always_open and always.is_open(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    assert always.next_opening(datetime(2026, 11, 29, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"weekly": {"monday": "09:00-18:00"}}, "unknown days"),
        ({"weekly": {"mon": "9h-18h"}}, "hours.weekly.mon"),
        ({"weekly": {"mon": "18:00-09:00"}}, "not a valid range"),
        ({"weekly": ["mon"]}, "expected a mapping"),
    ],
)
def test_bad_hours_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(HoursError, match=message):
        parse_hours(data)
