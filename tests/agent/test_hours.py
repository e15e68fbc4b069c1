"""Business hours of the profile: open/closed, the next opening, the after-hours reply, bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

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
    assert "from 2:00 PM today." in HOURS.closed_reply_for("en", tuesday_lunch)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "a partir del lunes a las 9:00."),
        ("de", "ab Montag 9:00 Uhr."),
        ("it", "a partire da lunedì alle 9:00."),
        ("pt", "a partir de segunda-feira às 9:00."),
        ("nl", "from Monday 9:00 AM."),  # no Dutch text: the English one, with an English weekday
    ],
)
def test_the_next_opening_is_written_in_the_customers_language(language: str, expected: str) -> None:
    saturday_evening = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    reply = HOURS.closed_reply_for(language, saturday_evening)
    assert reply.endswith(expected) and not re.search(r"\bMon\b", reply)


#: The demo shop's week: Monday to Friday 9:00-18:00, Saturday 10:00-13:00, Paris time.
WEEK = parse_hours({
    "timezone": "Europe/Paris",
    "weekly": {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": "10:00-13:00"},
})


@pytest.mark.parametrize(
    ("language", "today", "tomorrow"),
    [
        ("en", "from 9:00 AM today.", "from 9:00 AM tomorrow."),
        ("fr", "dès aujourd'hui 9 h.", "dès demain 9 h."),
        ("es", "a partir de hoy a las 9:00.", "a partir de mañana a las 9:00."),
        ("de", "ab heute 9:00 Uhr.", "ab morgen 9:00 Uhr."),
        ("it", "a partire da oggi alle 9:00.", "a partire da domani alle 9:00."),
        ("pt", "a partir de hoje às 9:00.", "a partir de amanhã às 9:00."),
    ],
)
def test_an_opening_today_or_tomorrow_is_said_so_in_the_customers_language(
        language: str, today: str, tomorrow: str) -> None:
    """At 03:00 on a Tuesday the reply said "from Tuesday 9:00" (es, it, pt "a partir del martes"): read as next
    week's. The day is the business's: 02:00 UTC is 03:00 in Paris, 23:30 UTC on Monday is already Tuesday there."""
    tuesday_3am = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    monday_evening = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    monday_late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # Tuesday 00:30 in Paris: the opening is today
    assert WEEK.closed_reply_for(language, tuesday_3am).endswith(today)
    assert WEEK.closed_reply_for(language, monday_evening).endswith(tomorrow)
    assert WEEK.closed_reply_for(language, monday_late).endswith(today)
    saturday_afternoon = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)  # opens Monday: a weekday, never "tomorrow"
    weekday = WEEK.closed_reply_for(language, saturday_afternoon)
    assert not weekday.endswith((today, tomorrow))
    assert re.search(r"(?i)monday|lundi|lunes|montag|lunedì|segunda", weekday)


def test_a_spanish_template_written_with_del_reads_right_today() -> None:
    """A profile's Spanish text written for a weekday ("a partir del {opens}") says "a partir de hoy", not "del hoy"."""
    hours = parse_hours({"timezone": "Europe/Madrid", "weekly": {"tue": "09:00-18:00", "thu": "09:00-18:00"},
                         "closed_reply": {"es": "Le respondemos a partir del {opens}."}})
    assert hours.closed_reply_for("es", datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == \
        "Le respondemos a partir de hoy a las 9:00."
    assert hours.closed_reply_for("es", datetime(2026, 12, 1, 18, 0, tzinfo=UTC)) == \
        "Le respondemos a partir del jueves a las 9:00."


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


def test_the_demo_shops_after_hours_reply_names_its_time_zone_in_every_language() -> None:
    """The demo shop answers customers abroad: its English and French replies said "(Paris time)", the Spanish,
    German, Italian and Portuguese ones fell back to the defaults, which name no zone, so a customer in London or the
    Canaries read "a partir de hoy a las 9:00" as their own nine o'clock."""
    profile = yaml.safe_load((Path(__file__).parents[2] / "examples/maison-lumiere/profile.yaml").read_text())
    demo = parse_hours(profile["hours"])
    tuesday_3am = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    for language, zone in (("en", "Paris time"), ("fr", "heure de Paris"), ("es", "hora de París"),
                           ("de", "Pariser Zeit"), ("it", "ora di Parigi"), ("pt", "hora de Paris")):
        reply = demo.closed_reply_for(language, tuesday_3am)
        assert reply.endswith(f"({zone}).") and "9" in reply, (language, reply)
