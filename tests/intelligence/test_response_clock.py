"""The chance to respond reads hours and weekdays on each contact's own clock: a Paris contact who clicked at
01:30 on Monday clicked on a Monday, though UTC says Sunday 23:30."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from core import db
from core.settings import Settings
from intelligence.response_features import FeatureBuilder, local_clock, training_rows
from intelligence.response_history import read, seconds
from tests.contacts.helpers import create_contact
from tests.intelligence.response_helpers import campaign_text, click

CLICKED = datetime(2026, 5, 24, 23, 30, tzinfo=UTC)  # Sunday 23:30 UTC: Monday 01:30 in Paris, Sunday 19:30 in New York
TEXTED = datetime(2026, 5, 25, 7, 0, tzinfo=UTC)  # Monday 07:00 UTC: Monday 09:00 in Paris, Monday 03:00 in New York


def _second(moment: datetime) -> int:
    return int(seconds(pd.Series([moment]))[0])


def test_hour_and_weekday_fit_are_read_in_each_contacts_zone(runtime_any_db: Settings) -> None:
    with db.session_scope() as session:
        paris = create_contact(session, 1, timezone="Europe/Paris").id
        new_york = create_contact(session, 2, timezone="America/New_York").id
        for contact_id in (paris, new_york):  # the same UTC moments for both
            campaign_text(session, contact_id, 1, CLICKED - timedelta(minutes=30))
            click(session, contact_id, 1, CLICKED)
            campaign_text(session, contact_id, 2, TEXTED)
        session.flush()
        history = read(session, until=TEXTED + timedelta(days=4))
    rows = training_rows(history, FeatureBuilder(history)).set_index(["contact", "campaign"])
    # the second text went on a Monday for both; only the Paris contact had clicked on a Monday
    assert rows.loc[(paris, 2), "weekday_share"] == 1.0  # was 0: UTC put the click on Sunday
    assert rows.loc[(new_york, 2), "weekday_share"] == 0.0
    # the usual hour is local too: Paris clicked at 01 and is texted at 09, New York at 19 and 03
    assert rows.loc[(paris, 2), "hour_gap"] == 8.0 and rows.loc[(new_york, 2), "hour_gap"] == 8.0


def test_the_local_clock_follows_summer_time_and_falls_back_to_utc() -> None:
    zones = pd.Series({1: "Europe/Paris", 2: "Not/AZone"}, dtype=object)
    winter, summer = _second(datetime(2026, 1, 5, 23, 30, tzinfo=UTC)), _second(CLICKED)
    hour, weekday = local_clock(zones, np.array([1, 1, 2, 3]), np.array([winter, summer, summer, summer]))
    # Paris: Tue 00:30 (UTC+1), Mon 01:30 (UTC+2); an unknown zone and a contact without one: UTC, Sun 23:30
    assert hour.tolist() == [0, 1, 23, 23] and weekday.tolist() == [1, 0, 6, 6]
