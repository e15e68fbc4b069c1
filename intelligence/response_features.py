"""Per send: did the recipient respond, and what was known about them when it went.

**Response** (:func:`outcomes`): within :data:`RESPONSE_DAYS` after a campaign text, the recipient clicked
one of that campaign's tracked links or a conversion was recorded for it, texted us back, or placed an
order that was not cancelled — the replies and purchases a campaign report counts in its attribution
window — and did not opt out in that window (a STOP is a reply, and the opposite of a response).

**Features** (:func:`features`) of a contact at a moment ``t``, read only from events strictly before
``t`` (:class:`~intelligence.timeline.Timeline` searches stop there): campaign texts received (all, last 7
and 30 days) and days since the last; earlier texts responded to (a response counts once it happened,
before ``t``), their share and days since the last; clicks and texts sent to us, days since each; orders
(all, last 90 days), spend net of cancellations, days since the last order; and how the text's hour and
weekday fit the hours and weekdays the contact clicked, replied and ordered at before, all read on the
contact's own clock (:func:`local_clock`: a Paris contact clicking at 00:30 on Monday clicked on a Monday,
not at 23:30 on Sunday as UTC says). Opt-out history is not a feature: an opted-out contact is never texted.
A contact never texted gets zeros and missing values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.zones import zone
from intelligence.response_history import Events, History
from intelligence.timeline import Timeline, pair_codes

#: the attribution window of campaign reports (``campaigns.reporting.ATTRIBUTION_DAYS``; a test keeps them equal)
RESPONSE_DAYS = 3
DAY = 86_400
WINDOW = RESPONSE_DAYS * DAY
COLUMNS = (
    "texts", "texts_7d", "texts_30d", "days_since_text", "responded_texts", "response_share",
    "days_since_response", "clicks", "days_since_click", "replies", "days_since_reply", "orders", "orders_90d",
    "spend", "days_since_order", "hour_gap", "weekday_share",
)  # fmt: skip


def hours(seconds: np.ndarray) -> np.ndarray:
    """Hour of the day (UTC, 0-23) of each moment."""
    return np.asarray((np.asarray(seconds, dtype=np.int64) // 3600) % 24)


def weekdays(seconds: np.ndarray) -> np.ndarray:
    """Weekday (UTC, 0 = Monday) of each moment: 1 January 1970 was a Thursday."""
    return np.asarray((np.asarray(seconds, dtype=np.int64) // DAY + 3) % 7)


def local_clock(zones: pd.Series, contact: np.ndarray, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hour (0-23) and weekday (0 = Monday) of each moment on its contact's own clock: the contact's time zone
    (``zones``: contact id -> name) read as quiet hours read it (``core.zones.zone``), UTC for a contact without
    one (a number whose country spans several clocks)."""
    contact, seconds = np.asarray(contact, dtype=np.int64), np.asarray(seconds, dtype=np.int64)
    hour, weekday = hours(seconds).copy(), weekdays(seconds).copy()
    names = pd.Series(contact).map(zones).to_numpy(dtype=object)
    for name in pd.unique(names[pd.notna(names)]):
        clock = zone(str(name))
        if clock.key == "UTC":
            continue
        mine = names == name
        local = pd.to_datetime(seconds[mine], unit="s", utc=True).tz_convert(clock)
        hour[mine], weekday[mine] = local.hour, local.day_of_week
    return hour, weekday


def _timeline(events: Events) -> Timeline:
    return Timeline(events.contact, events.seconds)


def outcomes(history: History, contact: np.ndarray, seconds: np.ndarray, campaign: np.ndarray) -> np.ndarray:
    """When each send's recipient first responded (seconds; NaN: no response, or an opt-out in the window)."""
    contact, seconds = np.asarray(contact, dtype=np.int64), np.asarray(seconds, dtype=np.int64)
    end = seconds + WINDOW
    asked, answered = pair_codes(
        (contact, campaign), (history.campaign_responses.contact, history.campaign_responses.campaign)
    )
    found = [
        Timeline(answered, history.campaign_responses.seconds).first_after(asked, seconds, end),
        _timeline(history.replies).first_after(contact, seconds, end),
        _timeline(history.kept_orders).first_after(contact, seconds, end),
    ]
    first = np.fmin.reduce(np.vstack(found), axis=0)
    opted = ~np.isnan(_timeline(history.opt_outs).first_after(contact, seconds, end))
    return np.where(opted, np.nan, first)


class FeatureBuilder:
    """The features of any (contact, moment, hour, weekday) from one history; built once, asked many times."""

    def __init__(self, history: History) -> None:
        sends = history.sends
        self.texts = _timeline(sends)
        answered = outcomes(history, sends.contact, sends.seconds, sends.campaign)
        kept = ~np.isnan(answered)
        # a send's response is known from when it happened: a timeline at the response's moment, not the send's
        self.responses = Timeline(sends.contact[kept], answered[kept].astype(np.int64))
        self.clicks, self.replies = _timeline(history.clicks), _timeline(history.replies)
        self.orders = Timeline(history.orders.contact, history.orders.seconds, history.orders.value)
        self.cancelled = Timeline(history.cancelled.contact, history.cancelled.seconds, history.cancelled.value)
        engaged = [history.clicks, history.replies, history.orders]
        contact = np.concatenate([e.contact for e in engaged])
        at = np.concatenate([e.seconds for e in engaged])
        hour, weekday = local_clock(history.zones, contact, at)
        angle = hour * (2 * np.pi / 24)
        self.engaged = Timeline(contact, at)
        self.sin, self.cos = Timeline(contact, at, np.sin(angle)), Timeline(contact, at, np.cos(angle))
        # contact x weekday as one group: within the timeline's group range up to contact id 76 million
        self.by_weekday = Timeline(contact * 7 + weekday, at)

    def features(self, contact: np.ndarray, seconds: np.ndarray, hour: np.ndarray, weekday: np.ndarray) -> pd.DataFrame:
        """One row per asked contact and moment (only events before it), in :data:`COLUMNS` order; ``hour`` and
        ``weekday`` are the text's on the contact's clock (:func:`local_clock`)."""
        contact, t = np.asarray(contact, dtype=np.int64), np.asarray(seconds, dtype=np.int64)

        def days_since(timeline: Timeline) -> np.ndarray:
            return (t - timeline.last_before(contact, t)) / DAY

        texts = self.texts.count(contact, 0, t)
        responded = self.responses.count(contact, 0, t)
        engaged = self.engaged.count(contact, 0, t)
        mean_angle = np.arctan2(self.sin.total(contact, 0, t), self.cos.total(contact, 0, t))
        usual = np.mod(mean_angle * 24 / (2 * np.pi), 24)
        gap = np.abs(np.asarray(hour, dtype=float) - usual)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame = pd.DataFrame({
                "texts": texts,
                "texts_7d": self.texts.count(contact, t - 7 * DAY, t),
                "texts_30d": self.texts.count(contact, t - 30 * DAY, t),
                "days_since_text": days_since(self.texts),
                "responded_texts": responded,
                "response_share": np.where(texts > 0, responded / np.maximum(texts, 1), np.nan),
                "days_since_response": days_since(self.responses),
                "clicks": self.clicks.count(contact, 0, t),
                "days_since_click": days_since(self.clicks),
                "replies": self.replies.count(contact, 0, t),
                "days_since_reply": days_since(self.replies),
                "orders": self.orders.count(contact, 0, t),
                "orders_90d": self.orders.count(contact, t - 90 * DAY, t),
                # rounded: sums read off cumulative totals carry float noise of the events around them
                "spend": np.round(self.orders.total(contact, 0, t) - self.cancelled.total(contact, 0, t), 2),
                "days_since_order": days_since(self.orders),
                "hour_gap": np.where(engaged > 0, np.round(np.minimum(gap, 24 - gap), 3), np.nan),
                "weekday_share": np.where(
                    engaged > 0, self.by_weekday.count(contact * 7 + np.asarray(weekday), 0, t) / engaged, np.nan),
            })  # fmt: skip
        return frame.astype(float)[list(COLUMNS)]


def training_rows(history: History, builder: FeatureBuilder) -> pd.DataFrame:
    """Every send whose window had elapsed by ``history.until``: its contact, campaign, moment, features and
    outcome (``responded`` 0/1), oldest first."""
    sends = history.sends
    known = sends.seconds + WINDOW <= history.until
    contact, at, campaign = sends.contact[known], sends.seconds[known], sends.campaign[known]
    answered = outcomes(history, contact, at, campaign)
    rows = builder.features(contact, at, *local_clock(history.zones, contact, at))
    rows.insert(0, "responded", (~np.isnan(answered)).astype(int))
    rows.insert(0, "seconds", at)
    rows.insert(0, "campaign", campaign)
    rows.insert(0, "contact", contact)
    return rows.sort_values(["seconds", "contact"], kind="stable").reset_index(drop=True)
