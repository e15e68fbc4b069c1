"""Quiet hours, country rules, local-time sends and recurrence, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from campaigns.scheduling import (
    french_holidays,
    local_moment,
    next_allowed,
    next_occurrence,
    validate_recurrence,
    window_for,
)
from core.errors import ValidationFailed

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
DEFAULT = window_for("US", time(21, 0), time(8, 0))


def test_inside_the_window_sends_now() -> None:
    moment = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 10:00 in New York
    assert next_allowed(moment, tz=NEW_YORK, country="US", window=DEFAULT) == moment


def test_before_opening_waits_for_eight_local() -> None:
    moment = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 05:00 in New York (EDT, UTC-4)
    assert next_allowed(moment, tz=NEW_YORK, country="US", window=DEFAULT) == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def test_after_quiet_hours_start_moves_to_next_morning() -> None:
    moment = datetime(2026, 1, 14, 2, 30, tzinfo=UTC)  # 21:30 on the 13th in New York (EST, UTC-5)
    assert next_allowed(moment, tz=NEW_YORK, country="US", window=DEFAULT) == datetime(2026, 1, 14, 13, 0, tzinfo=UTC)


def test_france_no_sunday_no_holiday_and_closes_at_eight_pm() -> None:
    window = window_for("FR", time(21, 0), time(8, 0))
    assert window.end == time(20, 0) and window.no_sundays
    saturday_evening = datetime(2026, 7, 11, 18, 30, tzinfo=UTC)  # 20:30 Paris, Saturday
    # Sunday 12 closed, Monday 13 open... but 14 July is a holiday: Monday 13 08:00 Paris = 06:00 UTC
    assert next_allowed(saturday_evening, tz=PARIS, country="FR", window=window) == datetime(
        2026, 7, 13, 6, 0, tzinfo=UTC)
    monday_night = datetime(2026, 7, 13, 19, 0, tzinfo=UTC)  # 21:00 Paris, next day is 14 July
    assert next_allowed(monday_night, tz=PARIS, country="FR", window=window) == datetime(
        2026, 7, 15, 6, 0, tzinfo=UTC)


def test_country_rules_can_be_switched_off() -> None:
    window = window_for("FR", time(21, 0), time(8, 0), country_rules=False)
    sunday_noon = datetime(2026, 7, 12, 10, 0, tzinfo=UTC)
    assert next_allowed(sunday_noon, tz=PARIS, country="FR", window=window) == sunday_noon


def test_french_holidays_follow_easter() -> None:
    days = french_holidays(2026)  # Easter 2026 is 5 April
    assert {date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25), date(2026, 7, 14)} <= days


def test_local_time_per_contact() -> None:
    day = date(2026, 3, 2)
    assert local_moment(day, time(10, 0), PARIS) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert local_moment(day, time(10, 0), NEW_YORK) == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert local_moment(day, time(10, 0), ZoneInfo("Asia/Tokyo")) == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_empty_window_is_an_error() -> None:
    with pytest.raises(ValidationFailed):
        next_allowed(datetime(2026, 1, 1, tzinfo=UTC), tz=PARIS, country="", window=window_for("", time(8), time(21)))


def test_rrule_and_cron_recurrence_in_local_time() -> None:
    after = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday
    weekly = "RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=10;BYMINUTE=0;BYSECOND=0"
    assert next_occurrence(weekly, after=after, tz=PARIS) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    # across the DST change (29 March) the local hour is kept
    assert next_occurrence(weekly, after=datetime(2026, 3, 23, 12, 0, tzinfo=UTC), tz=PARIS) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC)
    assert next_occurrence("0 10 * * 1", after=after, tz=PARIS) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert next_occurrence("RRULE:FREQ=DAILY;COUNT=1;BYHOUR=10", after=after, tz=PARIS,
                           start=datetime(2026, 3, 1, 0, 0, tzinfo=UTC)) is None


def test_bad_recurrence_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        validate_recurrence("every tuesday")
    validate_recurrence("*/15 9-17 * * 1-5")
